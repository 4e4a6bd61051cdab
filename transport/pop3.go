package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/pop3"
)

// POP3Options tunes DialPOP3. The zero value is fine.
type POP3Options struct {
	Trace io.Writer // protocol trace; pop3 masks PASS and AUTH arguments
}

// DialPOP3 connects, secures and logs in; each step has its bound (see
// Endpoint), and a server that stalls in one fails with a *StallError
// (Temporary). The caller ends the session with Quit (which commits
// deletions) or Close (which keeps every message).
func DialPOP3(ctx context.Context, e Endpoint, opts POP3Options) (*pop3.Client, error) {
	c, err := startPOP3(ctx, e, opts)
	if err != nil {
		return nil, err
	}
	if err := loginPOP3(ctx, c, e); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// startPOP3 connects and reads the greeting, inside TLS or after STLS as
// e.TLS says.
func startPOP3(ctx context.Context, e Endpoint, opts POP3Options) (*pop3.Client, error) {
	conn, err := e.connect(ctx)
	if err != nil {
		return nil, err
	}
	if e.implicitTLS() {
		if conn, err = e.handshake(ctx, conn, 995); err != nil {
			return nil, err
		}
	}
	var c *pop3.Client
	err = step(ctx, "greeting from "+e.Address(), e.timeout(), nil, func(ctx context.Context) error {
		c, err = pop3.NewClient(ctx, conn, &pop3.Options{Timeout: e.IdleTimeout, Trace: opts.Trace})
		return err
	})
	if err != nil {
		return nil, e.greetingHint(err)
	}
	if e.TLS != config.TLSStartTLS {
		return c, nil
	}
	if err := startTLS(ctx, c, e); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func startTLS(ctx context.Context, c *pop3.Client, e Endpoint) error {
	cfg, err := e.TLSConfig()
	if err != nil {
		return err
	}
	err = step(ctx, "STLS with "+e.Address(), e.timeout(), nil, func(ctx context.Context) error {
		return c.StartTLS(ctx, cfg)
	})
	return e.tlsHint(err, 995)
}

// loginPOP3 authenticates with SASL AUTH or USER and PASS, as chooseSASL
// says, within e.loginTimeout(). A refused login wraps ErrAuth (and
// pop3.ErrAuth).
func loginPOP3(ctx context.Context, c *pop3.Client, e Endpoint) error {
	secret, err := e.secret(ctx)
	if err != nil {
		return err
	}
	sc, err := chooseSASL(e, secret, c.Capabilities()["SASL"])
	if err != nil {
		return err
	}
	err = step(ctx, "login to "+e.Address(), e.loginTimeout(), nil, func(ctx context.Context) error {
		if sc == nil {
			return c.Login(ctx, e.Username, secret)
		}
		mech, ir, err := sc.Start()
		if err != nil {
			return MarkPermanent(fmt.Errorf("auth %s: %w", mech, err))
		}
		return c.AuthSASL(ctx, mech, ir)
	})
	return pop3AuthError(c, e, err)
}

// pop3AuthError gives a refused POP3 login the ErrAuth of IMAP's, and a
// [LOGIN-DELAY] refusal the delay the server announced in CAPA.
func pop3AuthError(c *pop3.Client, e Endpoint, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pop3.ErrAuth) && Classify(err) == Permanent:
		return fmt.Errorf("%w for %s: %w", ErrAuth, e.Username, err)
	}
	if d := loginDelay(c, err); d > 0 {
		return delayError{err, d}
	}
	return err
}

// loginDelay is the LOGIN-DELAY capability (RFC 2449: the seconds
// between logins) when err is a [LOGIN-DELAY] refusal, or 0.
func loginDelay(c *pop3.Client, err error) time.Duration {
	var se *pop3.ServerError
	args := c.Capabilities()["LOGIN-DELAY"]
	if !errors.As(err, &se) || !strings.EqualFold(se.Code, "LOGIN-DELAY") || len(args) == 0 {
		return 0
	}
	secs, perr := strconv.ParseUint(args[0], 10, 31)
	if perr != nil {
		return 0
	}
	return time.Duration(secs) * time.Second
}
