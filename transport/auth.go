package transport

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-sasl"

	"github.com/mailkeep/mailkeep/config"
)

// chooseSASL picks how to log in, for IMAP and POP3 alike: the SASL client
// that e.Auth names, or nil for the protocol's own password login (IMAP
// LOGIN, POP3 USER and PASS). Auth "" takes SASL PLAIN when the server
// offers it and the password login otherwise.
func chooseSASL(e Endpoint, secret string, offered []string) (sasl.Client, error) {
	switch e.Auth {
	case "":
		if !offers(offered, sasl.Plain) {
			return nil, nil
		}
		return sasl.NewPlainClient("", e.Username, secret), nil
	case config.AuthPlain:
		return sasl.NewPlainClient("", e.Username, secret), nil
	case config.AuthLogin:
		return nil, nil
	case config.AuthXOAuth2:
		return newXOAuth2(e.Username, secret), nil
	case config.AuthOAuthBearer:
		return sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: e.Username, Token: secret}), nil
	}
	return nil, MarkPermanent(fmt.Errorf("unknown auth %q", e.Auth))
}

func offers(mechs []string, mech string) bool {
	for _, m := range mechs {
		if strings.EqualFold(m, mech) {
			return true
		}
	}
	return false
}

// secret returns the password or token; failing to get one is permanent.
func (e Endpoint) secret(ctx context.Context) (string, error) {
	if e.Secret == nil {
		return "", MarkPermanent(errors.New("no password or token configured"))
	}
	s, err := e.Secret(ctx)
	if err != nil {
		return "", MarkPermanent(err)
	}
	return s, nil
}
