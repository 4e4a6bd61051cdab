package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailkeep/mailkeep/agent"
	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/progress"
)

// output is how a command reports: a human summary, or JSON for scripts.
type output struct {
	json     bool
	progress bool
	dryRun   bool
}

func backupCommand(g *globals) *cobra.Command {
	var noProgress, asJSON, dryRun bool
	cmd := &cobra.Command{
		Use:   "backup [ACCOUNT...]",
		Short: "Back up every account of the config file, or the named ones, once",
		RunE: func(cmd *cobra.Command, args []string) error {
			log, cfg, accts, err := g.setup(args)
			if err != nil {
				return err
			}
			out := output{json: asJSON, progress: !noProgress && !asJSON, dryRun: dryRun}
			if dryRun {
				return dryRunAll(cmd.Context(), g, cfg, accts, log, out)
			}
			return backupAll(cmd.Context(), g, cfg, accts, log, out)
		},
	}
	cmd.Flags().BoolVar(&noProgress, "no-progress", false, "no progress bar, even on a terminal")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per account instead of the summary")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say what a backup would fetch, folder by folder; write nothing")
	return cmd
}

// backupAll backs up accounts one after the other and returns the worst outcome.
func backupAll(ctx context.Context, g *globals, cfg *config.Config, accts []*config.Account, log *slog.Logger, out output) error {
	var worst error
	for _, a := range accts {
		p := progress.New(g.stderr, a.Name, out.progress, log, "syncing folder", "account", a.Name)
		res, err := agent.Backup(ctx, cfg.Archive, a, log, p)
		err = accountError(err)
		p.Done()
		if out.json {
			printJSON(g.stdout, backupJSON(a.Name, res, err))
		} else {
			printSummary(g.stdout, a.Name, res, err)
		}
		worst = worse(worst, err)
		if ctx.Err() != nil {
			break
		}
	}
	return worst
}

// dryRunAll says, account by account, what a backup would fetch.
func dryRunAll(ctx context.Context, g *globals, cfg *config.Config, accts []*config.Account, log *slog.Logger, out output) error {
	var worst error
	for _, a := range accts {
		list, err := agent.DryRun(ctx, cfg.Archive, a, log)
		err = accountError(err)
		if out.json {
			printJSON(g.stdout, dryRunJSON(a.Name, list, err))
		} else {
			printDryRun(g.stdout, a.Name, list, err)
		}
		worst = worse(worst, err)
	}
	return worst
}

// dryRunReport is one account's dry run for --json.
type dryRunReport struct {
	Account    string         `json:"account"`
	Fetch      int            `json:"fetch"`
	FetchBytes int64          `json:"fetch_bytes"`
	Gone       int            `json:"gone"`
	Folders    []dryRunFolder `json:"folders"`
	Error      string         `json:"error,omitempty"`
}

type dryRunFolder struct {
	Name       string `json:"name"`
	Fetch      int    `json:"fetch"`
	FetchBytes int64  `json:"fetch_bytes"`
	Gone       int    `json:"gone"`
	Unchanged  bool   `json:"unchanged"`
}

func dryRunJSON(name string, list []backup.FolderInfo, err error) dryRunReport {
	rep := dryRunReport{Account: name, Folders: []dryRunFolder{}}
	for _, f := range list {
		rep.Fetch, rep.FetchBytes, rep.Gone = rep.Fetch+f.Fetch, rep.FetchBytes+f.FetchBytes, rep.Gone+f.Gone
		rep.Folders = append(rep.Folders, dryRunFolder{f.Name, f.Fetch, f.FetchBytes, f.Gone, f.Unchanged})
	}
	if err != nil {
		rep.Error = err.Error()
	}
	return rep
}

func printDryRun(w io.Writer, name string, list []backup.FolderInfo, err error) {
	rep := dryRunJSON(name, list, err)
	if err != nil {
		fmt.Fprintf(w, "%s: dry run failed — %v\n", name, err)
		return
	}
	fmt.Fprintf(w, "%s: dry run — %s (%s) to fetch, %d gone, in %s\n", name, plural(rep.Fetch, "message"),
		humanBytes(rep.FetchBytes), rep.Gone, plural(len(list), "folder"))
	for _, f := range list {
		state := fmt.Sprintf("%d to fetch (%s), %d gone", f.Fetch, humanBytes(f.FetchBytes), f.Gone)
		if f.Unchanged {
			state = "unchanged"
		}
		fmt.Fprintf(w, "  %s: %s\n", displayName(f.Name), state)
	}
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

// backupReport is one account's backup for --json.
type backupReport struct {
	Account       string   `json:"account"`
	Outcome       string   `json:"outcome"`
	Run           int64    `json:"run,omitempty"`
	Folders       int      `json:"folders"`
	NewMessages   int      `json:"new_messages"`
	NewBytes      int64    `json:"new_bytes"`
	FlagUpdates   int      `json:"flag_updates"`
	Gone          int      `json:"gone"`
	ServerDeleted int      `json:"server_deleted"`
	Linked        int      `json:"linked"`         // new messages stored as links to content the archive held
	NotDownloaded int      `json:"not_downloaded"` // of those, not downloaded at all (X-GM-MSGID)
	SavedBytes    int64    `json:"saved_bytes"`    // disk the links saved
	Errors        int      `json:"errors"`
	Duration      float64  `json:"duration_seconds"`
	Error         string   `json:"error,omitempty"`
	Failures      []string `json:"failures,omitempty"`
	// ThrottledUntil: the server throttled the run, which ended early;
	// no attempt should come before this time.
	ThrottledUntil *time.Time `json:"throttled_until,omitempty"`
}

func backupJSON(name string, r backup.Result, err error) backupReport {
	s := r.Stats
	rep := backupReport{Account: name, Outcome: outcomeOf(r, err), Run: r.RunID, Folders: s.Folders,
		NewMessages: s.NewMessages, NewBytes: s.NewBytes, FlagUpdates: s.FlagUpdates, Gone: s.Gone,
		ServerDeleted: s.ServerDeleted, Errors: s.Errors, Duration: r.Duration.Seconds(),
		Linked: s.Linked, NotDownloaded: s.NotDownloaded, SavedBytes: s.SavedBytes}
	if !r.Throttle.Until.IsZero() {
		rep.ThrottledUntil = &r.Throttle.Until
	}
	if err != nil {
		rep.Error = err.Error()
	}
	for _, f := range r.Failures {
		rep.Failures = append(rep.Failures, f.Error())
	}
	return rep
}

// outcomeOf is a run's outcome, also for a run that never began.
func outcomeOf(r backup.Result, err error) string {
	switch {
	case r.Outcome != "":
		return r.Outcome
	case errors.Is(err, archive.ErrBusy):
		return "busy"
	case errors.Is(err, context.Canceled):
		return archive.OutcomeInterrupted
	case err != nil:
		return archive.OutcomeFailed
	}
	return archive.OutcomeOK
}

func printJSON(w io.Writer, v any) {
	data, _ := json.Marshal(v)
	fmt.Fprintf(w, "%s\n", data)
}

// printSummary prints one account's line: its outcome, and for a run that
// failed, its own cause.
func printSummary(w io.Writer, name string, r backup.Result, err error) {
	outcome := outcomeOf(r, err)
	s := r.Stats
	if r.RunID == 0 || (outcome != archive.OutcomeOK && outcome != archive.OutcomePartial && s.NewMessages == 0) {
		fmt.Fprintf(w, "%s: %s — %v\n", name, outcome, err)
		return
	}
	deleted := ""
	if s.ServerDeleted > 0 {
		deleted = fmt.Sprintf(", %d deleted from the server", s.ServerDeleted)
	}
	fmt.Fprintf(w, "%s: %s — %s, %s (%s), %s, %d gone%s, %s, %s\n",
		name, outcome, plural(s.Folders, "folder"), plural(s.NewMessages, "new message"), humanBytes(s.NewBytes),
		plural(s.FlagUpdates, "flag update"), s.Gone, deleted, plural(s.Errors, "error"), r.Duration.Round(time.Millisecond))
	if outcome != archive.OutcomeOK && outcome != archive.OutcomePartial && err != nil {
		fmt.Fprintf(w, "  cause: %v\n", err)
	}
	printShared(w, s)
	if !r.Throttle.Until.IsZero() {
		fmt.Fprintf(w, "  throttled by the server: the run stopped; next attempt after %s\n",
			r.Throttle.Until.Local().Format("2006-01-02 15:04 MST"))
	}
	printFailures(w, r.Failures)
}

// printShared says how much the content stored once saved.
func printShared(w io.Writer, s archive.RunStats) {
	if s.Linked == 0 {
		return
	}
	fmt.Fprintf(w, "  stored once: %s shared content the archive held (%s of disk saved", plural(s.Linked, "new message"),
		humanBytes(s.SavedBytes))
	if s.NotDownloaded > 0 {
		fmt.Fprintf(w, ", %d not downloaded", s.NotDownloaded)
	}
	fmt.Fprintln(w, ")")
}

func printFailures(w io.Writer, failures []error) {
	for i, f := range failures {
		if i == 10 {
			fmt.Fprintf(w, "  … and %d more\n", len(failures)-10)
			break
		}
		fmt.Fprintf(w, "  error: %v\n", f)
	}
}

// plural writes a count with its noun: "1 folder", "2 folders".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
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
