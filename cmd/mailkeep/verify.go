package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/config"
)

func verifyCommand(g *globals) *cobra.Command {
	var repair, asJSON bool
	var rebuild string
	cmd := &cobra.Command{
		Use:   "verify [ACCOUNT...]",
		Short: "Check every archived message against the catalog; --repair fixes what can be fixed",
		Long: `verify decodes every message file and checks its size and SHA-256 against the
catalog, and finds catalog rows without files, files without rows, file names Dovecot would
reject (wrong S= or W=), undecodable files, stale temp files and catalog inconsistencies.
It reports by default; --repair fixes what can be fixed and says what cannot.
--rebuild-catalog ACCOUNT replaces an account's catalog with one rebuilt from its Maildir tree.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if rebuild != "" {
				args = []string{rebuild}
			}
			_, cfg, accts, err := g.setup(args)
			if err != nil {
				return err
			}
			if rebuild != "" {
				return rebuildCatalog(cmd.Context(), g, cfg, rebuild)
			}
			return verifyAll(cmd.Context(), g, cfg, accts, repair, asJSON)
		},
	}
	cmd.Flags().BoolVar(&repair, "repair", false, "fix what can be fixed")
	cmd.Flags().StringVar(&rebuild, "rebuild-catalog", "", "rebuild this account's catalog from its Maildir tree")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per account instead of the report")
	return cmd
}

func verifyAll(ctx context.Context, g *globals, cfg *config.Config, accts []*config.Account, repair, asJSON bool) error {
	var worst error
	for _, a := range accts {
		rep, err := verifyAccount(ctx, cfg.Archive, a.Name, repair)
		if asJSON {
			printJSON(g.stdout, verifyJSON(a.Name, rep, err))
		} else {
			printReport(g, a.Name, rep, err)
		}
		worst = worse(worst, err)
	}
	return worst
}

func verifyAccount(ctx context.Context, root, name string, repair bool) (archive.Report, error) {
	arch, err := archive.OpenWriter(ctx, root, name, nil)
	if err != nil {
		return archive.Report{}, accountError(err)
	}
	defer arch.Close()
	rep, err := arch.Verify(ctx, archive.VerifyOptions{Repair: repair})
	if err != nil {
		return rep, accountError(err)
	}
	if n := rep.Unrepaired(); n > 0 {
		return rep, withCode(exitProblems, fmt.Errorf("%s: %d problems found", name, n))
	}
	return rep, nil
}

// verifyReport is one account's verify for --json.
type verifyReport struct {
	Account    string          `json:"account"`
	Outcome    string          `json:"outcome"` // clean, repaired, problems or failed
	Folders    int             `json:"folders"`
	Messages   int             `json:"messages"`
	Bytes      int64           `json:"bytes"`
	Shared     int             `json:"shared"` // messages whose file shares a content read once
	Unrepaired int             `json:"unrepaired"`
	Problems   []verifyProblem `json:"problems"`
	Error      string          `json:"error,omitempty"`
}

type verifyProblem struct {
	Kind     string `json:"kind"`
	Folder   string `json:"folder"`
	Key      string `json:"key,omitempty"`
	Detail   string `json:"detail,omitempty"`
	Repaired bool   `json:"repaired"`
}

func verifyJSON(name string, rep archive.Report, err error) verifyReport {
	out := verifyReport{Account: name, Outcome: verifyOutcome(rep, err), Folders: rep.Folders, Messages: rep.Messages,
		Bytes: rep.Bytes, Shared: rep.Shared, Unrepaired: rep.Unrepaired(), Problems: []verifyProblem{}}
	for _, p := range rep.Problems {
		out.Problems = append(out.Problems, verifyProblem{p.Kind, p.Folder, p.Key, p.Detail, p.Repaired})
	}
	if err != nil {
		out.Error = err.Error()
	}
	return out
}

func verifyOutcome(rep archive.Report, err error) string {
	switch {
	case code(err) == exitProblems:
		return "problems"
	case err != nil:
		return "failed"
	case len(rep.Problems) > 0:
		return "repaired"
	}
	return "clean"
}

func printReport(g *globals, name string, rep archive.Report, err error) {
	if err != nil && code(err) != exitProblems {
		fmt.Fprintf(g.stdout, "%s: failed — %v\n", name, err)
		return
	}
	state := "clean"
	if len(rep.Problems) > 0 {
		state = fmt.Sprintf("%s, %d unrepaired", plural(len(rep.Problems), "problem"), rep.Unrepaired())
	}
	shared := ""
	if rep.Shared > 0 {
		shared = fmt.Sprintf(", %d of them sharing content read once", rep.Shared)
	}
	fmt.Fprintf(g.stdout, "%s: %s — %s, %s (%s) checked%s\n", name, state, plural(rep.Folders, "folder"),
		plural(rep.Messages, "message"), humanBytes(rep.Bytes), shared)
	for _, p := range rep.Problems {
		fmt.Fprintf(g.stdout, "  %s\n", p)
	}
}

func rebuildCatalog(ctx context.Context, g *globals, cfg *config.Config, name string) error {
	if _, err := cfg.Account(name); err != nil {
		return withCode(exitUsage, err)
	}
	arch, err := archive.OpenWriter(ctx, cfg.Archive, name, nil)
	if err != nil {
		return accountError(err)
	}
	defer arch.Close()
	rep, err := arch.RebuildCatalog(ctx, time.Now())
	if err != nil && !errors.Is(err, context.Canceled) {
		return withCode(exitFailure, err)
	}
	fmt.Fprintf(g.stdout, "%s: catalog rebuilt — %d folders, %d messages (%s)\n", name, rep.Folders, rep.Messages, humanBytes(rep.Bytes))
	for _, p := range rep.Problems {
		fmt.Fprintf(g.stdout, "  %s\n", p)
	}
	return accountError(err)
}
