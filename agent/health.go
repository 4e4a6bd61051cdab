package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/schedule"
)

// The health rule, shared by /healthz and "mailkeep status --check": an
// account is checked when it has a schedule or agent.health_max_age is
// set. Its bound is agent.health_max_age, or else three times the longest
// gap of its schedule plus the jitter, at least an hour (schedule.MaxAge).
// It is stale when its last success (a run that ended ok or partial) is
// older than the bound or, before its first success, when its first run
// is. An account that never ran is not stale, so that a new deployment is
// healthy until its first runs had their chance. Both read the account's
// catalog, so they always agree.

// Status is one account's state as status shows it and the health rule
// judges it.
type Status struct {
	Account     string     `json:"account"`
	Schedule    string     `json:"schedule,omitempty"`
	LastRun     *RunStatus `json:"last_run,omitempty"`
	LastSuccess *time.Time `json:"last_success,omitempty"`
	NextRun     *time.Time `json:"next_run,omitempty"`
	// ThrottledUntil: the server throttled the last run and asked to be
	// left alone until then (a time still to come); the agent's next
	// attempt is then, and NextRun says so. Throttled is the server's reply.
	ThrottledUntil *time.Time `json:"throttled_until,omitempty"`
	Throttled      string     `json:"throttled,omitempty"`
	MaxAge         string     `json:"max_age,omitempty"` // the health bound; empty when not checked
	Stale          string     `json:"stale,omitempty"`   // why the account is unhealthy
	Problem        string     `json:"problem,omitempty"` // what could not be read
}

// RunStatus is a run as status shows it.
type RunStatus struct {
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

// Statuses returns the state of each of accts at now.
func Statuses(ctx context.Context, cfg *config.Config, accts []*config.Account, now time.Time) []Status {
	out := make([]Status, 0, len(accts))
	for _, a := range accts {
		out = append(out, StatusOf(ctx, cfg, a, now))
	}
	return out
}

// StatusOf reads one account's runs and judges its health.
func StatusOf(ctx context.Context, cfg *config.Config, a *config.Account, now time.Time) Status {
	st := Status{Account: a.Name, Schedule: a.Schedule}
	maxAge := time.Duration(cfg.Agent.HealthMaxAge)
	if a.Schedule != "" {
		sc, err := schedule.Parse(a.Schedule, Location(cfg))
		if err != nil {
			st.Problem = err.Error()
		} else {
			next := sc.Next(now)
			st.NextRun = &next
			maxAge = schedule.MaxAge(sc, maxAge, time.Duration(cfg.Agent.Jitter), now)
		}
	}
	h, ok, err := readHistory(ctx, cfg.Archive, a.Name)
	switch {
	case errors.Is(err, archive.ErrNoArchive):
	case err != nil:
		st.Problem = joinProblems(st.Problem, err.Error())
	case ok:
		st.LastRun = toRunStatus(h.last)
		if !h.success.Ended.IsZero() {
			st.LastSuccess = &h.success.Ended
		}
		if until := h.throttle.Until; until.After(now) {
			st.ThrottledUntil, st.Throttled = &until, h.throttle.Reason
			if st.NextRun != nil {
				st.NextRun = &until
			}
		}
	}
	if maxAge > 0 {
		st.MaxAge = maxAge.String()
		st.Stale = staleness(h, maxAge, now)
	}
	return st
}

// Unhealthy returns one line for each account of cfg that the health rule
// finds stale or whose catalog cannot be read; none when all are healthy.
func Unhealthy(ctx context.Context, cfg *config.Config, now time.Time) []string {
	var out []string
	for i := range cfg.Accounts {
		s := StatusOf(ctx, cfg, &cfg.Accounts[i], now)
		switch {
		case s.Stale != "":
			out = append(out, s.Account+": "+s.Stale)
		case s.Problem != "":
			out = append(out, s.Account+": "+s.Problem)
		}
	}
	slices.Sort(out)
	return out
}

// Location is the zone schedules are read in; config checked the name.
func Location(cfg *config.Config) *time.Location {
	if cfg.Agent.Timezone == "" {
		return time.Local
	}
	loc, err := time.LoadLocation(cfg.Agent.Timezone)
	if err != nil {
		return time.Local
	}
	return loc
}

func joinProblems(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// staleness says why an account is unhealthy, or "".
func staleness(h history, maxAge time.Duration, now time.Time) string {
	switch {
	case !h.success.Ended.IsZero():
		if age := now.Sub(h.success.Ended); age > maxAge {
			return fmt.Sprintf("last success %s ago, more than %s", RoundAge(age), maxAge)
		}
	case !h.first.Started.IsZero():
		if age := now.Sub(h.first.Started); age > maxAge {
			return fmt.Sprintf("no success in %s of runs, more than %s", RoundAge(age), maxAge)
		}
	}
	return ""
}

func toRunStatus(r archive.Run) *RunStatus {
	rs := &RunStatus{Started: r.Started, Kind: r.Kind, Outcome: r.Outcome, Folders: r.Folders,
		NewMessages: r.NewMessages, NewBytes: r.NewBytes, FlagUpdates: r.FlagUpdates, Gone: r.Gone,
		Errors: r.Errors, Error: r.Error}
	if !r.Ended.IsZero() {
		rs.Ended = &r.Ended
	}
	return rs
}

// history is what the health rule and the metrics read from a catalog.
type history struct {
	last     archive.Run      // the newest run
	success  archive.Run      // the newest ok or partial run; zero if none
	first    archive.Run      // the oldest run
	throttle archive.Throttle // the last run's throttling; zero if none
}

// readHistory reads an account's runs without taking its lock; ok is
// false when it has none.
func readHistory(ctx context.Context, root, name string) (h history, ok bool, err error) {
	snap, err := archive.OpenSnapshot(ctx, root, name)
	if err != nil {
		return h, false, err
	}
	defer snap.Close()
	last, ok, err := snap.LastRun(ctx, archive.OutcomeRunning, archive.OutcomeOK, archive.OutcomePartial,
		archive.OutcomeFailed, archive.OutcomeInterrupted)
	if err != nil || !ok {
		return h, false, err
	}
	h.last = last
	if h.success, _, err = snap.LastRun(ctx, archive.OutcomeOK, archive.OutcomePartial); err != nil {
		return h, false, err
	}
	if h.first, _, err = snap.FirstRun(ctx); err != nil {
		return h, false, err
	}
	if h.throttle, err = snap.Throttle(ctx); err != nil {
		return h, false, err
	}
	return h, true, nil
}

// RoundAge shortens a duration for a message: 26h3m, 3m20s, 12s.
func RoundAge(d time.Duration) time.Duration {
	switch {
	case d >= time.Hour:
		return d.Round(time.Minute)
	case d >= time.Minute:
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}
