package transport

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/emersion/go-sasl"

	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/pop3"
)

// POP3Options tunes DialPOP3. The zero value is fine.
type POP3Options struct {
	Trace io.Writer // protocol trace; pop3 masks PASS and AUTH arguments
}

// DialPOP3 connects, secures and logs in. The caller ends the session with
// Quit (which commits deletions) or Close (which keeps every message).
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
		if conn, err = e.handshake(ctx, conn); err != nil {
			return nil, err
		}
	}
	c, err := pop3.NewClient(ctx, conn, &pop3.Options{Timeout: e.IdleTimeout, Trace: opts.Trace})
	if err != nil {
		return nil, fmt.Errorf("greeting from %s: %w", e.Address(), err)
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
	if err := c.StartTLS(ctx, cfg); err != nil {
		return classifyTLS(fmt.Errorf("STLS with %s: %w", e.Address(), err))
	}
	return nil
}

// loginPOP3 authenticates with the mechanism the account names, or lets
// the client choose (SASL PLAIN where offered, else USER and PASS).
func loginPOP3(ctx context.Context, c *pop3.Client, ep Endpoint) error {
	if ep.Secret == nil {
		return Permanent(errors.New("no password or token configured"))
	}
	secret, err := ep.Secret(ctx)
	if err != nil {
		return Permanent(err)
	}
	var sc sasl.Client
	switch ep.Auth {
	case "":
		return c.Auth(ctx, ep.Username, secret)
	case config.AuthLogin:
		return c.Login(ctx, ep.Username, secret)
	case config.AuthPlain:
		sc = sasl.NewPlainClient("", ep.Username, secret)
	case config.AuthOAuthBearer:
		sc = sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: ep.Username, Token: secret})
	case config.AuthXOAuth2:
		return c.AuthSASL(ctx, "XOAUTH2", []byte("user="+ep.Username+"\x01auth=Bearer "+secret+"\x01\x01"))
	default:
		return Permanent(fmt.Errorf("unknown auth %q", ep.Auth))
	}
	mech, ir, err := sc.Start()
	if err != nil {
		return Permanent(err)
	}
	return c.AuthSASL(ctx, mech, ir)
}
