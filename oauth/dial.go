package oauth

import "context"

// Dial connects and logs in with the account's access token: dial does the
// work with the token it is given, and refused tells a server's refusal of
// the login (transport.ErrAuth, pop3.ErrAuth) from other failures. On a
// refusal, Dial refreshes the token once and dials again; a second refusal
// is ErrNeedsLogin wrapping the server's answer.
//
// Dial knows nothing of IMAP or POP3, so it serves wherever dialing lives.
func Dial[C any](ctx context.Context, s *Source, refused func(error) bool, dial func(ctx context.Context, token string) (C, error)) (C, error) {
	var zero C
	token, err := s.Token(ctx)
	if err != nil {
		return zero, err
	}
	c, err := dial(ctx, token)
	if err == nil || !refused(err) {
		return c, err
	}
	s.cfg.Log.Info("the server refused the access token; refreshing it once", "account", s.cfg.Account)
	token, err = s.Refresh(ctx, token)
	if err != nil {
		return zero, err
	}
	c, err = dial(ctx, token)
	if err != nil && refused(err) {
		return zero, s.needsLogin(err, "the server refused a freshly refreshed access token (%v); check that username is the account that signed in", err)
	}
	return c, err
}
