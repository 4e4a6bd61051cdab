package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailkeep/mailkeep/archive"
)

func runsCommand(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "runs ACCOUNT",
		Short: "List an account's backup runs, oldest first",
		Long: `runs lists the backup runs that an account's archive records, oldest first: run id,
start, duration, kind, outcome, new messages, flag updates, messages gone from the server,
new bytes and errors, and under the table the error of each run that failed. A run id is
what --as-of takes (restore, find) to see the archive as that run left it. --json prints
one JSON object per run. runs reads the archive without locking it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			a, err := cfg.Account(args[0])
			if err != nil {
				return withCode(exitUsage, err)
			}
			runs, err := accountRuns(cmd.Context(), cfg.Archive, a.Name)
			if err != nil {
				return withCode(exitFailure, err)
			}
			if asJSON {
				for _, r := range runs {
					printJSON(g.stdout, runJSON(r))
				}
				return nil
			}
			return printRuns(g.stdout, runs)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per run")
	return cmd
}

// accountRuns returns the account's runs, oldest first; none when it has
// no archive yet.
func accountRuns(ctx context.Context, root, name string) ([]archive.Run, error) {
	snap, err := archive.OpenSnapshot(ctx, root, name)
	if errors.Is(err, archive.ErrNoArchive) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer snap.Close()
	runs, err := snap.Runs(ctx)
	slices.Reverse(runs)
	return runs, err
}

func printRuns(w io.Writer, runs []archive.Run) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTARTED\tDURATION\tKIND\tOUTCOME\tNEW\tFLAGS\tGONE\tBYTES\tERRORS")
	for _, r := range runs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%d\n", r.ID, r.Started.Local().Format("2006-01-02 15:04:05"),
			runDuration(r), r.Kind, r.Outcome, r.NewMessages, r.FlagUpdates, r.Gone, humanBytes(r.NewBytes), r.Errors)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range runs {
		if r.Error != "" {
			fmt.Fprintf(w, "run %d: %s\n", r.ID, terminalText(r.Error, 500))
		}
	}
	return nil
}

func runDuration(r archive.Run) string {
	if r.Ended.IsZero() {
		return "-"
	}
	return r.Ended.Sub(r.Started).Round(time.Millisecond).String()
}

// runReport is one run for --json.
type runReport struct {
	Run         int64      `json:"run"`
	Kind        string     `json:"kind"`
	Started     time.Time  `json:"started"`
	Ended       *time.Time `json:"ended,omitempty"`
	Duration    float64    `json:"duration_seconds,omitempty"`
	Outcome     string     `json:"outcome"`
	Folders     int        `json:"folders"`
	NewMessages int        `json:"new_messages"`
	NewBytes    int64      `json:"new_bytes"`
	FlagUpdates int        `json:"flag_updates"`
	Gone        int        `json:"gone"`
	Errors      int        `json:"errors"`
	Error       string     `json:"error,omitempty"`
}

func runJSON(r archive.Run) runReport {
	rep := runReport{Run: r.ID, Kind: r.Kind, Started: r.Started, Outcome: r.Outcome, Folders: r.Folders,
		NewMessages: r.NewMessages, NewBytes: r.NewBytes, FlagUpdates: r.FlagUpdates, Gone: r.Gone,
		Errors: r.Errors, Error: r.Error}
	if !r.Ended.IsZero() {
		rep.Ended, rep.Duration = &r.Ended, r.Ended.Sub(r.Started).Seconds()
	}
	return rep
}
