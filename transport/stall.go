package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"time"
	"weak"

	"github.com/emersion/go-imap/v2/imapclient"
)

// Bounds on a server's silence (see Endpoint): each step of opening a
// session has its own, and an open session has the idle bound.
const (
	// DefaultTimeout bounds the connect, the TLS handshake, the greeting
	// and STARTTLS (or STLS), each on its own.
	DefaultTimeout = 30 * time.Second
	// DefaultLoginTimeout bounds the login.
	DefaultLoginTimeout = time.Minute
)

// StallError is the failure of a server that stayed silent past a bound:
// a step of opening the session that did not end in time, or no data for
// the idle bound while an answer was awaited. It is Temporary: a new
// connection may fare better.
type StallError struct {
	Op    string        // what was awaited, such as "greeting from host:993"
	Bound time.Duration // the bound that ran out
	Idle  bool          // the idle bound of an open session, not a step's
}

func (e *StallError) Error() string {
	if e.Idle {
		return fmt.Sprintf("%s: no data for %v", e.Op, e.Bound)
	}
	return fmt.Sprintf("%s: timed out after %v", e.Op, e.Bound)
}

// Unwrap makes a stall a timeout for Classify and for crypto/tls.
func (e *StallError) Unwrap() error { return os.ErrDeadlineExceeded }

// Stalled reports whether err comes from a server that stayed silent past
// a bound: a *StallError, or a network timeout such as a connect's.
func Stalled(err error) bool {
	var se *StallError
	var ne net.Error
	return errors.As(err, &se) || errors.As(err, &ne) && ne.Timeout()
}

// step runs fn, one step of opening a session, and gives it bound to end:
// then abort (which closes the connection) ends it, and the error is a
// *StallError for op. fn's ctx ends at the bound too, with the StallError
// as its cause. Other errors are wrapped with op.
func step(ctx context.Context, op string, bound time.Duration, abort func(), fn func(context.Context) error) error {
	stall := &StallError{Op: op, Bound: bound}
	sctx, cancel := context.WithTimeoutCause(ctx, bound, stall)
	defer cancel()
	stop := func() bool { return true }
	if abort != nil {
		stop = context.AfterFunc(sctx, abort)
	}
	err := fn(sctx)
	aborted := !stop()
	switch {
	case context.Cause(sctx) == error(stall) && (err != nil || aborted):
		return stall
	case err == nil && aborted:
		return fmt.Errorf("%s: %w", op, context.Cause(ctx))
	case err != nil && ctx.Err() != nil:
		return fmt.Errorf("%s: %w (%w)", op, context.Cause(ctx), err)
	case err != nil && !errors.Is(err, error(stall)):
		return fmt.Errorf("%s: %w", op, err)
	}
	return err
}

// conns maps each client DialIMAP returned to its connection, for
// IMAPError: go-imap reports a failed read as text only. An entry goes
// when its client is garbage.
var conns sync.Map // weak.Pointer[imapclient.Client] → *idleConn

func track(c *imapclient.Client, conn *idleConn) {
	key := weak.Make(c)
	conns.Store(key, conn)
	runtime.AddCleanup(c, func(key weak.Pointer[imapclient.Client]) { conns.Delete(key) }, key)
}

// IMAPError returns err, the failure of a command on c, with the cause
// that go-imap reports as text only: when c's server stayed silent past
// the idle bound, errors.As finds the *StallError in it; when the
// connection had ended (closed, cut, or broken by a response the client
// could not parse), it wraps ErrConnLost. Classify then says Temporary. c
// must come from DialIMAP; for other clients, and for nil, err is returned
// as it is.
func IMAPError(c *imapclient.Client, err error) error {
	if err == nil || c == nil {
		return err
	}
	v, ok := conns.Load(weak.Make(c))
	if !ok {
		return err
	}
	conn := v.(*idleConn)
	var se *StallError
	switch stall := conn.stalled(); {
	case stall != nil && !errors.As(err, &se):
		return stallCause{err, stall}
	case conn.ended() && Classify(err) == Permanent && !errors.Is(err, ErrAuth):
		return fmt.Errorf("%w: %w", ErrConnLost, err)
	}
	return err
}

// stallCause keeps an error's text and adds the stall that caused it.
type stallCause struct {
	err   error
	stall *StallError
}

func (e stallCause) Error() string   { return e.err.Error() }
func (e stallCause) Unwrap() []error { return []error{e.err, e.stall} }
