package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailkeep/mailkeep/agent"
	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/config"
)

func pruneCommand(g *globals) *cobra.Command {
	var asJSON, dryRun bool
	cmd := &cobra.Command{
		Use:   "prune [ACCOUNT...]",
		Short: "Take out of the archive what the accounts' retention no longer keeps",
		Long: `prune applies each account's retention (absent: the archive keeps everything):
messages deleted on the server longer ago than retention.gone_after, folders deleted on the
server longer ago than retention.folders_gone_after (with their messages), messages that
POP3 delete mode removed from the server longer ago than retention.pop3_deleted_after, and
the as-of history of all but the newest retention.runs backups. A message the server still
has is never pruned. A prune is crash safe: killed at any point, the next prune, backup or
verify --repair finishes it, and nothing it took comes back.

--dry-run says what would go (count, bytes, oldest and newest date, by folder) and changes
nothing; it takes no lock. The agent prunes an account after each of its backups that ends ok.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, cfg, accts, err := g.setup(args)
			if err != nil {
				return err
			}
			return pruneAll(cmd.Context(), g, cfg, accts, log, output{json: asJSON, dryRun: dryRun})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say what would be pruned; change nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per account instead of the summary")
	return cmd
}

// pruneAll prunes accounts one after the other and returns the worst outcome.
func pruneAll(ctx context.Context, g *globals, cfg *config.Config, accts []*config.Account, log *slog.Logger, out output) error {
	var worst error
	for _, a := range accts {
		var res archive.PruneResult
		var err error
		if out.dryRun {
			res, err = agent.PlanPrune(ctx, cfg.Archive, a)
		} else {
			res, err = agent.Prune(ctx, cfg.Archive, a, log)
		}
		noArchive := errors.Is(err, archive.ErrNoArchive)
		if noArchive {
			err = nil
		}
		err = accountError(err)
		rep := pruneJSON(a, res, out.dryRun, noArchive, err)
		if out.json {
			printJSON(g.stdout, rep)
		} else {
			printPrune(g.stdout, rep, res)
		}
		worst = worse(worst, err)
		if ctx.Err() != nil {
			break
		}
	}
	return worst
}

// pruneReport is one account's prune for --json.
type pruneReport struct {
	Account string `json:"account"`
	// Outcome: ok, dry-run, none (no retention, or no archive yet: Note
	// says which), busy, failed or interrupted.
	Outcome        string        `json:"outcome"`
	Note           string        `json:"note,omitempty"`
	DryRun         bool          `json:"dry_run"`
	Prune          int64         `json:"prune,omitempty"` // the prune's record in the catalog
	Messages       int           `json:"messages"`
	Bytes          int64         `json:"bytes"`
	DiskBytes      int64         `json:"disk_bytes"`
	Oldest         *time.Time    `json:"oldest,omitempty"`
	Newest         *time.Time    `json:"newest,omitempty"`
	FoldersRemoved int           `json:"folders_removed"`
	RunsMerged     int           `json:"runs_merged"`
	OldestRun      int64         `json:"oldest_run,omitempty"`
	Leftovers      int           `json:"leftovers"`
	Folders        []pruneFolder `json:"folders"`
	Duration       float64       `json:"duration_seconds"`
	Error          string        `json:"error,omitempty"`
}

type pruneFolder struct {
	Name      string     `json:"name"`
	Removed   bool       `json:"removed"`
	GoneSince *time.Time `json:"gone_since,omitempty"`
	Messages  int        `json:"messages"`
	Bytes     int64      `json:"bytes"`
	DiskBytes int64      `json:"disk_bytes"`
	Oldest    *time.Time `json:"oldest,omitempty"`
	Newest    *time.Time `json:"newest,omitempty"`
}

func pruneJSON(a *config.Account, r archive.PruneResult, dryRun, noArchive bool, err error) pruneReport {
	rep := pruneReport{Account: a.Name, Outcome: pruneOutcome(a, dryRun, noArchive, err), DryRun: dryRun, Prune: r.ID,
		Messages: r.Messages, Bytes: r.Bytes, DiskBytes: r.DiskBytes, Oldest: timeOrNil(r.Oldest), Newest: timeOrNil(r.Newest),
		FoldersRemoved: r.FoldersRemoved, RunsMerged: r.RunsMerged, OldestRun: r.OldestRun, Leftovers: r.Leftovers,
		Folders: []pruneFolder{}, Duration: r.Duration.Seconds()}
	for _, f := range r.Folders {
		rep.Folders = append(rep.Folders, pruneFolder{Name: f.Name, Removed: f.Whole, GoneSince: timeOrNil(f.GoneSince),
			Messages: f.Messages, Bytes: f.Bytes, DiskBytes: f.DiskBytes, Oldest: timeOrNil(f.Oldest), Newest: timeOrNil(f.Newest)})
	}
	switch {
	case err != nil:
		rep.Error = err.Error()
	case a.Retention.IsZero():
		rep.Note = "no retention in the configuration: the archive keeps everything"
	case noArchive:
		rep.Note = "no archive yet"
	}
	return rep
}

func pruneOutcome(a *config.Account, dryRun, noArchive bool, err error) string {
	switch {
	case err != nil:
		return outcomeOf(backup.Result{}, err)
	case a.Retention.IsZero(), noArchive:
		return "none"
	case dryRun:
		return "dry-run"
	}
	return archive.OutcomeOK
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// printPrune prints one account's prune: a line, then one per folder.
func printPrune(w io.Writer, rep pruneReport, r archive.PruneResult) {
	switch rep.Outcome {
	case "none":
		fmt.Fprintf(w, "%s: nothing to prune — %s\n", rep.Account, rep.Note)
		return
	case "ok", "dry-run":
	default:
		fmt.Fprintf(w, "%s: %s — %s\n", rep.Account, rep.Outcome, rep.Error)
		return
	}
	if r.Empty() {
		fmt.Fprintf(w, "%s: %s — nothing to prune\n", rep.Account, strings.ReplaceAll(rep.Outcome, "-", " "))
		return
	}
	fmt.Fprintf(w, "%s: %s — %s\n", rep.Account, strings.ReplaceAll(rep.Outcome, "-", " "), pruneSummary(r, rep.DryRun))
	for _, f := range r.Folders {
		fmt.Fprintf(w, "  %s: %s\n", displayName(f.Name), pruneFolderLine(f))
	}
	if r.Leftovers > 0 {
		verb := "removed first"
		if rep.DryRun {
			verb = "to remove first"
		}
		fmt.Fprintf(w, "  an interrupted prune left %s (%s): %s\n", plural(r.Leftovers, "file"), humanBytes(r.LeftoverBytes), verb)
	}
}

// pruneSummary is the account line's text: what went, or would go.
func pruneSummary(r archive.PruneResult, dryRun bool) string {
	s := fmt.Sprintf("%s pruned (%s, %s on disk)", plural(r.Messages, "message"), humanBytes(r.Bytes), humanBytes(r.DiskBytes))
	if dryRun {
		s = fmt.Sprintf("%s would go (%s, %s on disk)", plural(r.Messages, "message"), humanBytes(r.Bytes), humanBytes(r.DiskBytes))
	}
	if r.Messages > 0 {
		s += ", dated " + dateRange(r.Oldest, r.Newest)
	}
	if r.FoldersRemoved > 0 {
		s += fmt.Sprintf("; %s removed", plural(r.FoldersRemoved, "folder"))
	}
	if r.RunsMerged > 0 {
		s += fmt.Sprintf("; %s merged into run %d", plural(r.RunsMerged, "run"), r.OldestRun)
	}
	if !dryRun {
		s += ", " + r.Duration.Round(time.Millisecond).String()
	}
	return s
}

func pruneFolderLine(f archive.PruneFolder) string {
	s := fmt.Sprintf("%s (%s)", plural(f.Messages, "message"), humanBytes(f.Bytes))
	if f.Messages > 0 {
		s += ", dated " + dateRange(f.Oldest, f.Newest)
	}
	if f.Whole {
		s = fmt.Sprintf("the folder, gone from the server since %s, with %s", f.GoneSince.Local().Format("2006-01-02"), s)
	}
	return s
}

func dateRange(from, to time.Time) string {
	return from.Local().Format("2006-01-02") + " to " + to.Local().Format("2006-01-02")
}
