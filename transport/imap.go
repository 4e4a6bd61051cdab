package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
)

// IMAPOptions tunes DialIMAP. The zero value is fine.
type IMAPOptions struct {
	Log   *slog.Logger
	Trace io.Writer // raw protocol trace; may contain credentials, so only on request
}

// DialIMAP connects, secures and logs in; each step has its bound (see
// Endpoint), and a server that stalls in one fails with a *StallError
// (Temporary). The connection closes when ctx ends; the caller logs out
// and closes it when done.
func DialIMAP(ctx context.Context, e Endpoint, opts IMAPOptions) (*imapclient.Client, error) {
	conn, err := e.openIMAP(ctx, opts.Trace)
	if err != nil {
		return nil, err
	}
	c := imapclient.New(conn, &imapclient.Options{DebugWriter: opts.Trace})
	stop := context.AfterFunc(ctx, func() { c.Close() })
	go func() { <-c.Closed(); stop() }()
	err = step(ctx, "greeting from "+e.Address(), e.timeout(), conn.abort, func(context.Context) error {
		return c.WaitGreeting()
	})
	if err != nil {
		return nil, e.greetingHint(lost(c, conn, err))
	}
	secret, err := e.secret(ctx)
	if err != nil {
		c.Close()
		return nil, err
	}
	err = step(ctx, "login to "+e.Address(), e.loginTimeout(), conn.abort, func(context.Context) error {
		return login(c, e, secret)
	})
	if err != nil {
		return nil, lost(c, conn, err)
	}
	conn.start()
	track(c, conn)
	return c, nil
}

func login(c *imapclient.Client, e Endpoint, secret string) error {
	caps := c.Caps()
	sc, err := chooseSASL(e, secret, caps.AuthMechanisms())
	if err != nil {
		return err
	}
	if sc != nil {
		err := c.Authenticate(sc)
		if x, ok := sc.(*xoauth2); ok {
			err = x.result(err)
		}
		return authError(e, err)
	}
	if e.Auth == "" && caps.Has(imap.CapLoginDisabled) {
		return MarkPermanent(errors.New("the server refuses login without TLS (LOGINDISABLED); use tls: implicit or starttls"))
	}
	return authError(e, c.Login(e.Username, secret).Wait())
}

// lost closes c after err ended the dialog, and marks err as a stall when
// conn timed out, or as a lost connection (Temporary) when the server had
// closed it: go-imap reports both in the middle of a response as a parse
// error. A refused login stays what it is.
func lost(c *imapclient.Client, conn *idleConn, err error) error {
	if s := conn.stalled(); s != nil && !Stalled(err) {
		c.Close()
		return stallCause{err, s}
	}
	if errors.Is(err, ErrAuth) || Classify(err) != Permanent {
		c.Close()
		return err
	}
	select {
	case <-c.Closed(): // the reader saw the end of the stream
		err = fmt.Errorf("%w: %w", ErrConnLost, err)
	case <-time.After(lostWait):
	}
	c.Close()
	return err
}

// lostWait is how long lost waits for the client to notice a closed
// connection: its reader goroutine ends as soon as the read fails.
const lostWait = 200 * time.Millisecond

// authError turns a refused login into ErrAuth without echoing the secret,
// unless the server's code says to try again later (as pop3 does). The
// login step adds the server's address.
func authError(e Endpoint, err error) error {
	if err == nil {
		return nil
	}
	var ie *imap.Error
	if errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeNo && Classify(ie) == Permanent {
		return fmt.Errorf("%w for %s: %s", ErrAuth, e.Username, ie.Text)
	}
	var oe *sasl.OAuthBearerError
	if errors.As(err, &oe) {
		return fmt.Errorf("%w for %s: token refused (%s)", ErrAuth, e.Username, oe.Status)
	}
	return err
}

// logoutTimeout bounds the wait for the server's answer to LOGOUT.
const logoutTimeout = 5 * time.Second

// CloseIMAP logs out, waiting at most 5 s for the server, and closes the
// connection. A nil client is fine.
func CloseIMAP(c *imapclient.Client) {
	if c == nil {
		return
	}
	done := make(chan struct{})
	go func() {
		c.Logout().Wait()
		close(done)
	}()
	t := time.NewTimer(logoutTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
	c.Close()
}
