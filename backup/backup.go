package backup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/progress"
	"github.com/mailkeep/mailkeep/transport"
)

// Settings are what every backup run takes, IMAP or POP3. Zero values
// mean sensible defaults.
type Settings struct {
	Compression string // archive.NewSpool level
	Log         *slog.Logger
	Progress    progress.Sink
	Now         func() time.Time
	// A batch is made durable and recorded when it holds this many
	// messages or bytes; defaults 500 and 64 MiB.
	BatchMessages int
	BatchBytes    int64
	// ThrottleBackoff is how long to stay away from a server that
	// throttled a run without suggesting a delay of its own; default
	// DefaultThrottleBackoff (see ThrottledError).
	ThrottleBackoff time.Duration
	// Index, when set, is told each time a batch's catalog rows have
	// committed, so that it can index them; nil: no index.
	Index Indexer
}

// Indexer keeps a search index up with the archive during a run (the
// index package's Follower). Committed is called right after each batch's
// catalog rows commit, never before, so the index cannot get ahead of the
// archive; it must not block, and whatever the indexer does cannot fail
// or slow the run. Whoever sets it waits for it after the run.
type Indexer interface {
	Committed()
}

// committed tells the indexer, if any, that rows were committed.
func (s *Settings) committed() {
	if s.Index != nil {
		s.Index.Committed()
	}
}

func (s *Settings) setDefaults() {
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	if s.Progress == nil {
		s.Progress = progress.Nop{}
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.BatchMessages <= 0 {
		s.BatchMessages = 500
	}
	if s.BatchBytes <= 0 {
		s.BatchBytes = 64 << 20
	}
}

// Options configure one IMAP backup run. Zero values mean sensible defaults.
type Options struct {
	Settings
	Dial        transport.IMAPDialer
	Connections int               // IMAP connections per account; default 4
	Include     func(string) bool // which decoded folder names to back up; nil = all
	// StallTimeout: a folder that makes no progress this long (a server
	// that talks without delivering) loses its connection and fails;
	// default DefaultStallTimeout.
	StallTimeout time.Duration
}

func (o *Options) setDefaults() {
	o.Settings.setDefaults()
	if o.Connections <= 0 {
		o.Connections = 4
	}
	if o.Include == nil {
		o.Include = func(string) bool { return true }
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = DefaultStallTimeout
	}
}

// Result is what a run did.
type Result struct {
	RunID    int64
	Outcome  string // archive.OutcomeOK, OutcomePartial or OutcomeFailed
	Stats    archive.RunStats
	Duration time.Duration
	Failures []error // per-message and per-folder failures of a partial run
	// Throttle is set when the server throttled the run: it ended early,
	// and the next attempt should wait until Throttle.Until.
	Throttle archive.Throttle
}

// ErrPartial is returned (wrapped) when a run finished with some failures.
var ErrPartial = errors.New("backup incomplete")

// stats accumulates counts from concurrent folder workers.
type stats struct {
	mu        sync.Mutex
	s         archive.RunStats
	failures  []error
	unchanged []int64 // folders skipped because LIST-STATUS showed no change
	throttled error   // the throttling reply that ended the workers (see throttle)
}

func (s *stats) add(f func(*archive.RunStats)) {
	s.mu.Lock()
	f(&s.s)
	s.mu.Unlock()
}

// errors returns how many failures were recorded.
func (s *stats) errors() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.s.Errors
}

func (s *stats) fail(err error) {
	s.mu.Lock()
	s.s.Errors++
	s.failures = append(s.failures, err)
	s.mu.Unlock()
}

// finish records the run's outcome last, after all its data (and the
// throttling it met, for status and the agent, just before).
func finish(ctx context.Context, a *archive.Writer, run int64, start time.Time, st *stats, runErr error, set Settings) (Result, error) {
	now := set.Now()
	res := Result{RunID: run, Stats: st.s, Duration: now.Sub(start), Failures: st.failures, Outcome: archive.OutcomeOK}
	th, te := throttleOf(ctx, st, runErr, set, now)
	switch {
	case runErr != nil:
		res.Outcome = archive.OutcomeFailed
		// A cancelled run often fails with the error of its closed
		// connection rather than the context's own.
		if errors.Is(runErr, context.Canceled) || ctx.Err() != nil {
			res.Outcome = archive.OutcomeInterrupted
			runErr = fmt.Errorf("%w (%w)", context.Cause(ctx), runErr)
		} else if te != nil {
			runErr = te
		}
	case te != nil:
		res.Outcome = archive.OutcomePartial
		runErr = fmt.Errorf("%w: %d failures: %w", ErrPartial, st.s.Errors, te)
	case st.s.Errors > 0:
		res.Outcome = archive.OutcomePartial
		runErr = fmt.Errorf("%w: %d failures, first: %w", ErrPartial, st.s.Errors, st.failures[0])
	}
	res.Throttle = th
	// The run record is written even when ctx is done: use a fresh context.
	wctx := context.WithoutCancel(ctx)
	terr := a.Catalog.UpdateThrottle(wctx, th)
	ferr := a.Catalog.FinishRun(wctx, run, res.Outcome, st.s, runErr, now)
	return res, errors.Join(runErr, terr, ferr)
}
