package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/emersion/go-sasl"

	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/pop3"
	"github.com/mailkeep/mailkeep/transport"
)

var pop3TLSModes = map[string]pop3.TLSMode{
	config.TLSImplicit: pop3.TLSImplicit,
	config.TLSStartTLS: pop3.TLSStartTLS,
	config.TLSNone:     pop3.TLSNone,
}

// pop3Dialer connects to the account's server as its tls setting says and
// logs in.
func pop3Dialer(a *config.Account, log *slog.Logger) backup.POP3Dialer {
	return withOAuth2(a, log, func(ctx context.Context, ep transport.Endpoint) (*pop3.Client, error) {
		mode, ok := pop3TLSModes[ep.TLS]
		if !ok {
			return nil, transport.Permanent(fmt.Errorf("unknown tls mode %q", ep.TLS))
		}
		opts := &pop3.Options{TLS: mode}
		if mode != pop3.TLSNone {
			cfg, err := ep.TLSConfig()
			if err != nil {
				return nil, err
			}
			opts.TLSConfig = cfg
		}
		c, err := pop3.Dial(ctx, ep.Address(), opts)
		if err != nil {
			return nil, err
		}
		if err := pop3Login(ctx, c, ep); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	})
}

// pop3Login authenticates with the mechanism the account names, or lets
// the client choose (SASL PLAIN where offered, else USER and PASS).
func pop3Login(ctx context.Context, c *pop3.Client, ep transport.Endpoint) error {
	if ep.Secret == nil {
		return transport.Permanent(errors.New("no password or token configured"))
	}
	secret, err := ep.Secret(ctx)
	if err != nil {
		return transport.Permanent(err)
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
		return transport.Permanent(fmt.Errorf("unknown auth %q", ep.Auth))
	}
	mech, ir, err := sc.Start()
	if err != nil {
		return transport.Permanent(err)
	}
	return c.AuthSASL(ctx, mech, ir)
}
