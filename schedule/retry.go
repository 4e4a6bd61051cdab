package schedule

import (
	"context"
	"time"
)

// Class sorts a job's error for the scheduler.
type Class int

const (
	// Permanent failures (a refused login, an unknown folder) are reported
	// and not retried: trying again would fail the same way.
	Permanent Class = iota
	// Temporary failures (a timeout, a reset connection, a busy server)
	// are retried with backoff within the same run.
	Temporary
	// Busy means another process holds the account (a manual backup): the
	// run is skipped without counting as a failure.
	Busy
	// Incomplete runs finished with some messages or folders failed. They
	// are reported and not retried: the next scheduled run fetches what is
	// missing.
	Incomplete
	// Throttled failures (a server that asks the client to slow down) end
	// the run; the account's next attempt is a run that starts after the
	// delay Options.RetryAfter gives, and none starts before it.
	Throttled
)

// Retry is the backoff for temporary failures: after attempt n fails, the
// run waits Base·2ⁿ⁻¹, at most Max, before the next attempt.
type Retry struct {
	Attempts int           // tries per run, first included; default 3
	Base     time.Duration // default 30s
	Max      time.Duration // default 5m
}

func (r *Retry) setDefaults() {
	if r.Attempts <= 0 {
		r.Attempts = 3
	}
	if r.Base <= 0 {
		r.Base = 30 * time.Second
	}
	if r.Max <= 0 {
		r.Max = 5 * time.Minute
	}
}

// delay is the wait after failed attempt n (counted from 1).
func (r Retry) delay(n int) time.Duration {
	d := r.Base
	for i := 1; i < n && d < r.Max; i++ {
		d *= 2
	}
	return min(d, r.Max)
}

// sleep waits for d, or until ctx is done; it reports whether the whole
// wait passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
