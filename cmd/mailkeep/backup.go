package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/mailkeep/mailkeep/agent"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/progress"
)

func backupCommand(g *globals) *cobra.Command {
	var noProgress bool
	cmd := &cobra.Command{
		Use:   "backup [ACCOUNT...]",
		Short: "Back up every account of the config file, or the named ones, once",
		RunE: func(cmd *cobra.Command, args []string) error {
			log, cfg, accts, err := g.setup(args)
			if err != nil {
				return err
			}
			return backupAll(cmd.Context(), g, cfg, accts, log, !noProgress)
		},
	}
	cmd.Flags().BoolVar(&noProgress, "no-progress", false, "no progress bar, even on a terminal")
	return cmd
}

// backupAll backs up accounts one after the other and returns the worst outcome.
func backupAll(ctx context.Context, g *globals, cfg *config.Config, accts []*config.Account, log *slog.Logger, showProgress bool) error {
	var worst error
	for _, a := range accts {
		p := progress.New(g.stderr, a.Name, showProgress, log, "syncing folder", "account", a.Name)
		res, err := agent.Backup(ctx, cfg.Archive, a, log, p)
		err = accountError(err)
		p.Done()
		printSummary(g.stdout, a.Name, res, err)
		worst = worse(worst, err)
		if ctx.Err() != nil {
			break
		}
	}
	return worst
}

// worse keeps the error with the higher exit code.
func worse(a, b error) error {
	if code(b) > code(a) {
		return b
	}
	return a
}

func code(err error) int {
	if ee, ok := err.(*exitError); ok {
		return ee.code
	}
	if err != nil {
		return exitFailure
	}
	return exitOK
}

func printSummary(w io.Writer, name string, r backup.Result, err error) {
	if r.RunID == 0 {
		fmt.Fprintf(w, "%s: failed: %v\n", name, err)
		return
	}
	s := r.Stats
	deleted := ""
	if s.ServerDeleted > 0 {
		deleted = fmt.Sprintf(", %d deleted from the server", s.ServerDeleted)
	}
	fmt.Fprintf(w, "%s: %s — %d folders, %d new messages (%s), %d flag updates, %d gone%s, %d errors, %s\n",
		name, r.Outcome, s.Folders, s.NewMessages, humanBytes(s.NewBytes), s.FlagUpdates, s.Gone, deleted, s.Errors,
		r.Duration.Round(1e6))
	for i, f := range r.Failures {
		if i == 10 {
			fmt.Fprintf(w, "  … and %d more\n", len(r.Failures)-10)
			break
		}
		fmt.Fprintf(w, "  error: %v\n", f)
	}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
