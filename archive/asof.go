package archive

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrNoRun reports an --as-of that names no run of the archive.
var ErrNoRun = errors.New("no such backup run")

// ErrRunPruned reports an --as-of that names a run, or a time, whose
// history a prune merged into a later run. Such an error also matches
// ErrNoRun.
var ErrRunPruned = errors.New("backup run pruned")

// prunedRunError says which run was pruned and which is the oldest kept.
type prunedRunError struct{ msg string }

func (e *prunedRunError) Error() string { return e.msg }

func (e *prunedRunError) Is(target error) bool { return target == ErrRunPruned || target == ErrNoRun }

// AsOf is a point in an archive's history as a user writes it: a run id
// ("42"), an RFC 3339 time, a plain date ("2026-11-01": the end of that
// day), or an age ("3d", "12h": that long before now). The zero AsOf is
// the latest state.
type AsOf struct {
	Run  int64     // a run id, or 0
	Time time.Time // the newest run that started at or before it
}

// ParseAsOf reads an --as-of value; dates and times without a zone are in
// loc, ages count back from now. parseAge parses the ages (config's
// duration parser, which knows "d" and "w").
func ParseAsOf(s string, now time.Time, loc *time.Location, parseAge func(string) (time.Duration, error)) (AsOf, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return AsOf{}, nil
	}
	if id, err := strconv.ParseInt(s, 10, 64); err == nil && id > 0 {
		return AsOf{Run: id}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return AsOf{Time: t}, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return AsOf{Time: t}, nil
		}
	}
	if d, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		return AsOf{Time: d.AddDate(0, 0, 1).Add(-time.Nanosecond)}, nil
	}
	if age, err := parseAge(s); err == nil && age > 0 {
		return AsOf{Time: now.Add(-age)}, nil
	}
	return AsOf{}, fmt.Errorf("--as-of %q: want a run id (mailkeep runs lists them), a date (2026-11-01), "+
		"an RFC 3339 time (2026-11-01T08:00:00Z) or an age (3d, 12h)", s)
}

// IsZero reports whether a is the latest state.
func (a AsOf) IsZero() bool { return a.Run == 0 && a.Time.IsZero() }

// Resolve returns the run a names: the run itself, or the newest run that
// started at or before its time. The zero AsOf resolves to the zero Run
// (the latest state). A run that does not exist is an error wrapping
// ErrNoRun that says which runs do; one whose history a prune merged away
// (retention runs: N) also wraps ErrRunPruned and names the oldest run
// kept.
func (s *Snapshot) Resolve(ctx context.Context, a AsOf) (Run, error) {
	if a.IsZero() {
		return Run{}, nil
	}
	runs, err := s.Runs(ctx)
	if err != nil {
		return Run{}, err
	}
	if len(runs) == 0 {
		return Run{}, fmt.Errorf("%w: the archive records no runs", ErrNoRun)
	}
	for _, r := range runs { // newest first
		if a.Run != 0 && r.ID == a.Run || a.Run == 0 && !r.Started.After(a.Time) {
			return r, nil
		}
	}
	first, last := runs[len(runs)-1], runs[0]
	merged, err := s.cat.mergedRuns(ctx)
	if err != nil {
		return Run{}, err
	}
	switch {
	case merged && a.Run != 0 && a.Run < first.ID:
		return Run{}, &prunedRunError{fmt.Sprintf("run %d was pruned; the oldest kept is %d", a.Run, first.ID)}
	case merged && a.Run == 0:
		return Run{}, &prunedRunError{fmt.Sprintf("the state as of %s was pruned; the oldest kept is run %d, started %s",
			a.Time.Format(time.RFC3339), first.ID, first.Started.Format(time.RFC3339))}
	}
	if a.Run != 0 {
		return Run{}, fmt.Errorf("%w: run %d (runs %d to %d exist)", ErrNoRun, a.Run, first.ID, last.ID)
	}
	return Run{}, fmt.Errorf("%w: none started at or before %s (the first started %s)", ErrNoRun,
		a.Time.Format(time.RFC3339), first.Started.Format(time.RFC3339))
}
