package oauth

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// LogoutResult says what Logout did.
type LogoutResult struct {
	Removed   bool  // there were tokens, and they are gone
	Revoked   bool  // the provider confirmed the revocation
	RevokeErr error // why revoking failed; the tokens are removed all the same
}

// Logout forgets the account's tokens and, where the provider has a
// revocation endpoint (RFC 7009), revokes the refresh token first (which
// revokes its access tokens too), or else the access token. A failed
// revocation does not keep the tokens: it is reported in the result.
func (s *Source) Logout(ctx context.Context) (LogoutResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := s.store.lock(ctx)
	if err != nil {
		return LogoutResult{}, err
	}
	defer unlock()
	var res LogoutResult
	rec, err := s.store.read()
	if err == nil && s.cfg.RevocationURL != "" {
		res.RevokeErr = s.revoke(ctx, rec)
		res.Revoked = res.RevokeErr == nil
	}
	res.Removed, err = s.store.remove()
	s.cached = nil
	return res, err
}

// revoke posts the refresh token (or, without one, the access token) to
// the revocation endpoint.
func (s *Source) revoke(ctx context.Context, rec *record) error {
	token, hint := rec.RefreshToken, "refresh_token"
	if token == "" {
		token, hint = rec.AccessToken, "access_token"
	}
	form := url.Values{"token": {token}, "token_type_hint": {hint}, "client_id": {s.cfg.ClientID}}
	if s.cfg.ClientSecret != "" {
		form.Set("client_secret", s.cfg.ClientSecret)
	}
	rctx, cancel := s.requestContext(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, s.cfg.RevocationURL, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return s.describe(rctx, "revoke", err, rec.RefreshToken, rec.AccessToken, s.cfg.ClientSecret)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return &providerError{msg: fmt.Sprintf("revoke: %s answered %s", req.URL.Host, responseWords(resp))}
	}
	return nil
}
