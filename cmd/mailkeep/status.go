package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/schedule"
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
without a schedule are checked only when agent.health_max_age is set. The
Docker image's HEALTHCHECK runs it.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, cfg, accts, err := g.setup(args)
			if err != nil {
				return err
			}
			list := statusOf(cmd.Context(), cfg, accts, time.Now())
			if err := printStatus(g.stdout, list, asJSON); err != nil {
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

// accountStatus is one account's line of status.
type accountStatus struct {
	Account     string     `json:"account"`
	Schedule    string     `json:"schedule,omitempty"`
	LastRun     *runStatus `json:"last_run,omitempty"`
	LastSuccess *time.Time `json:"last_success,omitempty"`
	NextRun     *time.Time `json:"next_run,omitempty"`
	MaxAge      string     `json:"max_age,omitempty"` // the health bound; empty when not checked
	Stale       string     `json:"stale,omitempty"`   // why the account is unhealthy
	Problem     string     `json:"problem,omitempty"` // what could not be read
	loc         *time.Location
}

// runStatus is a run as status shows it.
type runStatus struct {
	Started     time.Time  `json:"started"`
	Ended       *time.Time `json:"ended,omitempty"`
	Kind        string     `json:"kind"`
	Outcome     string     `json:"outcome"`
	Folders     int        `json:"folders"`
	NewMessages int        `json:"new_messages"`
	NewBytes    int64      `json:"new_bytes"`
	FlagUpdates int        `json:"flag_updates"`
	Gone        int        `json:"gone"`
	Errors      int        `json:"errors"`
	Error       string     `json:"error,omitempty"`
}

func statusOf(ctx context.Context, cfg *config.Config, accts []*config.Account, now time.Time) []accountStatus {
	loc := agentLocation(cfg)
	out := make([]accountStatus, 0, len(accts))
	for _, a := range accts {
		out = append(out, accountStatusOf(ctx, cfg, a, loc, now))
	}
	return out
}

func accountStatusOf(ctx context.Context, cfg *config.Config, a *config.Account, loc *time.Location, now time.Time) accountStatus {
	st := accountStatus{Account: a.Name, Schedule: a.Schedule, loc: loc}
	var maxAge time.Duration
	if a.Schedule != "" {
		sc, err := schedule.Parse(a.Schedule, loc)
		if err != nil {
			st.Problem = err.Error()
		} else {
			next := sc.Next(now)
			st.NextRun = &next
			maxAge = schedule.MaxAge(sc, time.Duration(cfg.Agent.HealthMaxAge), time.Duration(cfg.Agent.Jitter), now)
		}
	} else {
		maxAge = time.Duration(cfg.Agent.HealthMaxAge)
	}
	h, ok, err := lastRuns(ctx, cfg.Archive, a.Name)
	switch {
	case errors.Is(err, archive.ErrNoArchive):
	case err != nil:
		st.Problem = joinProblems(st.Problem, err.Error())
	case ok:
		st.LastRun = toRunStatus(h.run)
		if !h.success.Ended.IsZero() {
			st.LastSuccess = &h.success.Ended
		}
	}
	if maxAge > 0 {
		st.MaxAge = maxAge.String()
		st.Stale = staleness(h, maxAge, now)
	}
	return st
}

func joinProblems(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// staleness says why an account is unhealthy, or "". The age is that of
// the last success, or, before the first, of the first run; an account
// that never ran is not stale, so that a new deployment is healthy until
// its first runs had their chance.
func staleness(h runHistory, maxAge time.Duration, now time.Time) string {
	switch {
	case !h.success.Ended.IsZero():
		if age := now.Sub(h.success.Ended); age > maxAge {
			return fmt.Sprintf("last success %s ago, more than %s", roundAge(age), maxAge)
		}
	case !h.first.Started.IsZero():
		if age := now.Sub(h.first.Started); age > maxAge {
			return fmt.Sprintf("no success in %s of runs, more than %s", roundAge(age), maxAge)
		}
	}
	return ""
}

func toRunStatus(r archive.Run) *runStatus {
	rs := &runStatus{Started: r.Started, Kind: r.Kind, Outcome: r.Outcome, Folders: r.Folders,
		NewMessages: r.NewMessages, NewBytes: r.NewBytes, FlagUpdates: r.FlagUpdates, Gone: r.Gone,
		Errors: r.Errors, Error: r.Error}
	if !r.Ended.IsZero() {
		rs.Ended = &r.Ended
	}
	return rs
}

// runHistory is what status and the agent's metrics read from a catalog.
type runHistory struct {
	run     archive.Run // the newest run
	success archive.Run // the newest ok or partial run; zero if none
	first   archive.Run // the oldest run
}

// lastRuns reads an account's run history without taking its lock; ok is
// false when it has no runs.
func lastRuns(ctx context.Context, root, name string) (h runHistory, ok bool, err error) {
	cat, err := archive.OpenSnapshot(ctx, root, name)
	if err != nil {
		return h, false, err
	}
	defer cat.Close()
	runs, err := cat.Runs(ctx)
	if err != nil || len(runs) == 0 {
		return h, false, err
	}
	h.run = runs[0]
	if h.success, _, err = cat.LastRun(ctx, archive.OutcomeOK, archive.OutcomePartial); err != nil {
		return h, false, err
	}
	if h.first, _, err = cat.FirstRun(ctx); err != nil {
		return h, false, err
	}
	return h, true, nil
}

func printStatus(w io.Writer, list []accountStatus, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tLAST RUN\tOUTCOME\tNEW\tSIZE\tERRORS\tLAST SUCCESS\tNEXT RUN")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\n", s.Account, strings.Join(s.columns(), "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range list {
		s.printNotes(w)
	}
	return nil
}

// columns are the table cells after the account's name.
func (s accountStatus) columns() []string {
	cols := []string{"never", "-", "-", "-", "-", s.timeOr(s.LastSuccess, "never"), s.timeOr(s.NextRun, "not scheduled")}
	if r := s.LastRun; r != nil {
		cols[0], cols[1] = s.timeOr(&r.Started, ""), r.Outcome
		cols[2], cols[3], cols[4] = fmt.Sprint(r.NewMessages), humanBytes(r.NewBytes), fmt.Sprint(r.Errors)
	}
	if s.Problem != "" && s.NextRun == nil && s.Schedule != "" {
		cols[6] = "invalid schedule"
	}
	return cols
}

func (s accountStatus) timeOr(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return t.In(s.loc).Format("2006-01-02 15:04 MST")
}

// printNotes prints what does not fit in the table: errors and staleness.
func (s accountStatus) printNotes(w io.Writer) {
	if r := s.LastRun; r != nil && r.Error != "" {
		fmt.Fprintf(w, "%s: last run: %s\n", s.Account, r.Error)
	}
	if s.Problem != "" {
		fmt.Fprintf(w, "%s: %s\n", s.Account, s.Problem)
	}
	if s.Stale != "" {
		fmt.Fprintf(w, "%s: unhealthy: %s\n", s.Account, s.Stale)
	}
}

// checkStatus fails when an account is stale or unreadable.
func checkStatus(list []accountStatus) error {
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
