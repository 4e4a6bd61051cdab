package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/oauth"
	"github.com/mailkeep/mailkeep/pop3"
	"github.com/mailkeep/mailkeep/transport"
)

// withOAuth2 turns dial, which connects and logs in to an endpoint, into
// the account's dialer. For an account with an oauth2 block, each dial
// logs in with the access token from the account's token store, refreshed
// once if the server refuses it (oauth.Dial); other accounts dial as
// configured.
func withOAuth2[C any](a *config.Account, log *slog.Logger, dial func(context.Context, transport.Endpoint) (C, error)) func(context.Context) (C, error) {
	ep := transport.EndpointFor(a)
	if !a.UsesOAuth2() {
		return func(ctx context.Context) (C, error) { return dial(ctx, ep) }
	}
	src, err := OAuthSource(a, log)
	return func(ctx context.Context) (C, error) {
		if err != nil {
			var zero C
			return zero, err
		}
		return oauth.Dial(ctx, src, loginRefused, func(ctx context.Context, token string) (C, error) {
			e := ep
			e.Secret = func(context.Context) (string, error) { return token, nil }
			return dial(ctx, e)
		})
	}
}

// loginRefused tells a refused login from other failures, for IMAP and POP3.
func loginRefused(err error) bool {
	return errors.Is(err, transport.ErrAuth) || errors.Is(err, pop3.ErrAuth)
}

// OAuthSource is the token source of an account with an oauth2 block.
func OAuthSource(a *config.Account, log *slog.Logger) (*oauth.Source, error) {
	o := &a.OAuth2
	secret, err := o.ClientSecret()
	if err != nil {
		return nil, fmt.Errorf("account %q: %w", a.Name, err)
	}
	return oauth.New(oauth.Config{
		Account: a.Name, Provider: o.Provider, ClientID: o.ClientID, ClientSecret: secret,
		AuthURL: o.AuthorizationURL, DeviceAuthURL: o.DeviceAuthorizationURL, TokenURL: o.TokenURL,
		RevocationURL: o.RevocationURL, Scopes: o.Scopes, StateDir: o.StateDir, Log: log,
	})
}
