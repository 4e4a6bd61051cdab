package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailkeep/mailkeep/agent"
)

func statusCommand(g *globals) *cobra.Command {
	var asJSON, check bool
	cmd := &cobra.Command{
		Use:   "status [ACCOUNT...]",
		Short: "Show each account's last run, outcome, counts and next run",
		Long: `Show each account's last run, its outcome and counts, the last successful run
and the next scheduled one. status reads the archive's catalogs without
locking them, so it works whether or not the agent is running.

With --check, status exits 1 when an account's last successful run is older
than its bound: agent.health_max_age, or by default three times the longest
gap of the account's schedule plus the jitter (at least an hour). Accounts
without a schedule are checked only when agent.health_max_age is set. This
is the rule the agent's /healthz applies; the Docker image's HEALTHCHECK
runs it.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, cfg, accts, err := g.setup(args)
			if err != nil {
				return err
			}
			list := agent.Statuses(cmd.Context(), cfg, accts, time.Now())
			if err := printStatus(g.stdout, list, agent.Location(cfg), asJSON); err != nil {
				return withCode(exitFailure, err)
			}
			if check {
				return checkStatus(list)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	cmd.Flags().BoolVar(&check, "check", false, "exit 1 when an account's last success is too old")
	return cmd
}

func printStatus(w io.Writer, list []agent.Status, loc *time.Location, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tLAST RUN\tOUTCOME\tNEW\tSIZE\tERRORS\tLAST SUCCESS\tNEXT RUN")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\n", s.Account, strings.Join(statusColumns(s, loc), "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range list {
		printStatusNotes(w, s, loc)
	}
	return nil
}

// statusColumns are the table cells after the account's name.
func statusColumns(s agent.Status, loc *time.Location) []string {
	cols := []string{"never", "-", "-", "-", "-", timeOr(s.LastSuccess, loc, "never"),
		timeOr(s.NextRun, loc, "not scheduled")}
	if r := s.LastRun; r != nil {
		cols[0], cols[1] = timeOr(&r.Started, loc, ""), r.Outcome
		cols[2], cols[3], cols[4] = fmt.Sprint(r.NewMessages), humanBytes(r.NewBytes), fmt.Sprint(r.Errors)
	}
	if s.Problem != "" && s.NextRun == nil && s.Schedule != "" {
		cols[6] = "invalid schedule"
	}
	if s.ThrottledUntil != nil {
		cols[6] = "throttled until " + timeOr(s.ThrottledUntil, loc, "")
	}
	return cols
}

func timeOr(t *time.Time, loc *time.Location, none string) string {
	if t == nil {
		return none
	}
	return t.In(loc).Format("2006-01-02 15:04 MST")
}

// printStatusNotes prints what does not fit in the table: errors and staleness.
func printStatusNotes(w io.Writer, s agent.Status, loc *time.Location) {
	if r := s.LastRun; r != nil && r.Error != "" {
		fmt.Fprintf(w, "%s: last run: %s\n", s.Account, r.Error)
	}
	if s.ThrottledUntil != nil {
		fmt.Fprintf(w, "%s: throttled by the server until %s: %s\n", s.Account,
			timeOr(s.ThrottledUntil, loc, ""), s.Throttled)
	}
	if s.Problem != "" {
		fmt.Fprintf(w, "%s: %s\n", s.Account, s.Problem)
	}
	if s.Stale != "" {
		fmt.Fprintf(w, "%s: unhealthy: %s\n", s.Account, s.Stale)
	}
}

// checkStatus fails when an account is stale or unreadable.
func checkStatus(list []agent.Status) error {
	var bad []string
	for _, s := range list {
		if s.Stale != "" {
			bad = append(bad, s.Account+": "+s.Stale)
		} else if s.Problem != "" {
			bad = append(bad, s.Account+": "+s.Problem)
		}
	}
	if len(bad) > 0 {
		return withCode(exitFailure, errors.New(strings.Join(bad, "; ")))
	}
	return nil
}
