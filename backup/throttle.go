package backup

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/transport"
)

// A server that throttles (an IMAP [LIMIT], [UNAVAILABLE] or [OVERQUOTA]
// answer, Gmail's "Account exceeded command or bandwidth limits",
// Microsoft's "Request is throttled"; a POP3 [LOGIN-DELAY]: whatever
// transport.Classify calls Throttled) ends the run. What was fetched is
// kept: each worker commits what it has and stops at its next safe point
// (the end of a fetch command), and no folder is begun after. The run
// ends partial (failed when the throttle came before any folder), with a
// ThrottledError that says when to come back: after the delay the server
// suggested (Microsoft's "Suggested Backoff Time", POP3's LOGIN-DELAY),
// else Settings.ThrottleBackoff, else DefaultThrottleBackoff; never
// sooner than MinThrottleBackoff. The next run starts where this one
// stopped, since its fetch list is what the server has and the catalog
// has not.

// DefaultThrottleBackoff is the wait after a throttled run whose server
// suggested none, and Settings.ThrottleBackoff is not set.
const DefaultThrottleBackoff = time.Hour

// MinThrottleBackoff bounds a server's suggestion from below, so that a
// server that keeps suggesting a few milliseconds gets no tight loop.
const MinThrottleBackoff = time.Minute

// maxThrottleBackoff bounds a server's suggestion from above.
const maxThrottleBackoff = 24 * time.Hour

// ThrottledError is the error of a run that a server throttled: no
// attempt should come before Until.
type ThrottledError struct {
	Until time.Time
	Err   error // the server's reply
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("the server throttled the run; next attempt after %s: %v", e.Until.Format(time.RFC3339), e.Err)
}

func (e *ThrottledError) Unwrap() error { return e.Err }

// RetryAt returns when a run that failed with err may be tried again; ok
// is false when err is not a throttled run's.
func RetryAt(err error) (until time.Time, ok bool) {
	var te *ThrottledError
	if errors.As(err, &te) {
		return te.Until, true
	}
	return time.Time{}, false
}

// throttleBackoff is how long to stay away after the throttling reply err.
func throttleBackoff(err error, configured time.Duration) time.Duration {
	if d, ok := transport.SuggestedDelay(err); ok {
		return min(max(d, MinThrottleBackoff), maxThrottleBackoff)
	}
	if configured > 0 {
		return max(configured, MinThrottleBackoff)
	}
	return DefaultThrottleBackoff
}

// errThrottleStop ends a folder's sync early because the server
// throttled another folder: it is not the folder's failure, and the
// folder's state is not saved, so the next run compares it again.
var errThrottleStop = errors.New("stopped: the server throttled the run")

// throttle is a run's record of a throttling reply, shared by its workers.
type throttle struct {
	mu      sync.Mutex
	err     error // the first throttling reply, with its folder
	skipped int   // folders not begun since
}

// declare records a throttling reply; the first one stands.
func (t *throttle) declare(folder string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err == nil {
		t.err = fmt.Errorf("folder %q: %w", folder, err)
	}
}

// stopped reports whether the server throttled the run.
func (t *throttle) stopped() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err != nil
}

// skip reports whether the server throttled the run, and counts a folder
// not begun when it did.
func (t *throttle) skip() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		t.skipped++
	}
	return t.err != nil
}

// result records the throttling reply among the run's failures (once);
// finish then ends the run partial and throttled.
func (t *throttle) result(st *stats) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err == nil {
		return
	}
	err := fmt.Errorf("%w; %d folders not begun", t.err, t.skipped)
	st.fail(err)
	st.mu.Lock()
	st.throttled = err
	st.mu.Unlock()
}

// throttleOf returns the throttling of a run that ended with runErr
// (throttled before any folder) or whose workers met it (st), with the
// time of the next attempt; the zero Throttle and nil when neither did.
func throttleOf(ctx context.Context, st *stats, runErr error, set Settings, now time.Time) (archive.Throttle, *ThrottledError) {
	reply := st.throttled
	if reply == nil && runErr != nil && transport.Classify(runErr) == transport.Throttled && ctx.Err() == nil {
		reply = runErr
	}
	if reply == nil {
		return archive.Throttle{}, nil
	}
	th := archive.Throttle{Until: now.Add(throttleBackoff(reply, set.ThrottleBackoff)), Reason: reply.Error()}
	return th, &ThrottledError{Until: th.Until, Err: reply}
}
