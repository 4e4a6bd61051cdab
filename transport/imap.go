package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/mailkeep/mailkeep/config"
)

// IMAPOptions tunes DialIMAP. The zero value is fine.
type IMAPOptions struct {
	Log   *slog.Logger
	Trace io.Writer // raw protocol trace; may contain credentials, so only on request
}

// DialIMAP connects, secures and logs in. The connection closes when ctx
// ends; the caller logs out and closes it when done.
func DialIMAP(ctx context.Context, e Endpoint, opts IMAPOptions) (*imapclient.Client, error) {
	conn, err := e.dialIMAP(ctx)
	if err != nil {
		return nil, err
	}
	copts := &imapclient.Options{DebugWriter: opts.Trace}
	var c *imapclient.Client
	if e.TLS == config.TLSStartTLS {
		cfg, err := e.TLSConfig()
		if err != nil {
			conn.Close()
			return nil, err
		}
		copts.TLSConfig = cfg
		if c, err = imapclient.NewStartTLS(conn, copts); err != nil {
			conn.Close()
			return nil, classifyTLS(fmt.Errorf("STARTTLS with %s: %w", e.Address(), err))
		}
	} else {
		c = imapclient.New(conn, copts)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	go func() { <-c.Closed(); stop() }()
	if err := c.WaitGreeting(); err != nil {
		c.Close()
		return nil, fmt.Errorf("greeting from %s: %w", e.Address(), err)
	}
	if err := login(ctx, c, e); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func login(ctx context.Context, c *imapclient.Client, e Endpoint) error {
	if e.Secret == nil {
		return Permanent(errors.New("no password or token configured"))
	}
	secret, err := e.Secret(ctx)
	if err != nil {
		return Permanent(err)
	}
	caps := c.Caps()
	if caps.Has(imap.CapLoginDisabled) && !caps.Has(imap.AuthCap(sasl.Plain)) && e.Auth == "" {
		return Permanent(fmt.Errorf("%s refuses login without TLS (LOGINDISABLED); use tls: implicit or starttls", e.Address()))
	}
	switch {
	case e.Auth == config.AuthXOAuth2:
		err = c.Authenticate(newXOAuth2(e.Username, secret))
	case e.Auth == config.AuthOAuthBearer:
		err = c.Authenticate(sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: e.Username, Token: secret}))
	case e.Auth == config.AuthPlain || e.Auth == "" && caps.Has(imap.AuthCap(sasl.Plain)):
		err = c.Authenticate(sasl.NewPlainClient("", e.Username, secret))
	default:
		err = c.Login(e.Username, secret).Wait()
	}
	return authError(e, err)
}

// authError turns a refused login into ErrAuth without echoing the secret.
func authError(e Endpoint, err error) error {
	if err == nil {
		return nil
	}
	var ie *imap.Error
	if errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeNo {
		return fmt.Errorf("%w for %s at %s: %s", ErrAuth, e.Username, e.Address(), ie.Text)
	}
	var oe *sasl.OAuthBearerError
	if errors.As(err, &oe) {
		return fmt.Errorf("%w for %s at %s: token refused (%s)", ErrAuth, e.Username, e.Address(), oe.Status)
	}
	return fmt.Errorf("login to %s: %w", e.Address(), err)
}
