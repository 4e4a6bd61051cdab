package backup

import (
	"fmt"
	"sync"
)

// outage ends a run's use of a server that stalled twice in a row on one
// folder: its connection went silent past a bound (see transport.Endpoint),
// and so did the new connection that retried it. The folders not yet begun
// are then not tried, since each would cost the same bounds again: with
// every connection stalling, a run of 100 folders would otherwise wait 200
// bounds. The run ends partial when it archived something, and failed
// otherwise, with the stall's Temporary error, so that the agent retries it.
type outage struct {
	mu      sync.Mutex
	err     error // the second stall, with its folder
	skipped int   // folders not tried since
}

// declare records err, the second stall of folder in a row; the first one
// declared stands.
func (o *outage) declare(folder string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err == nil {
		o.err = fmt.Errorf("folder %q: %w", folder, err)
	}
}

// skip reports whether the server is given up, and counts a folder not
// tried when it is.
func (o *outage) skip() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		o.skipped++
	}
	return o.err != nil
}

// result is the run's error after its workers ended: nil without an
// outage, or when the run archived something (the outage is then one of
// its failures).
func (o *outage) result(st *stats) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err == nil {
		return nil
	}
	err := fmt.Errorf("the server stalled on a folder and on its retry; %d folders not tried: %w", o.skipped, o.err)
	st.mu.Lock()
	archived := st.s.NewMessages > 0
	st.mu.Unlock()
	if !archived {
		return err
	}
	st.fail(err)
	return nil
}
