package oauth

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// Source hands out an account's access token. It is safe for concurrent
// use; within a process the goroutines of one Source refresh once between
// them, and across processes the token lock does the same.
type Source struct {
	cfg   Config
	store store

	mu     sync.Mutex
	cached *record // the last record read or written; nil at first
	warned bool    // the Google token age warning was logged
}

// New returns the token source of cfg's account. It reads nothing yet.
func New(cfg Config) (*Source, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Source{cfg: cfg, store: store{dir: tokenDir(cfg.StateDir), account: cfg.Account}}, nil
}

func tokenDir(stateDir string) string { return stateDir + "/oauth2" }

// TokenFile is where the account's tokens are kept.
func (s *Source) TokenFile() string { return s.store.path() }

// Token returns a valid access token: the one in memory or in the token
// file while it has more than the margin left, else a refreshed one. With
// no tokens, or a refresh token the provider refuses, the error is
// ErrNeedsLogin.
func (s *Source) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fresh(s.cached) {
		s.warnAge(s.cached)
		return s.cached.AccessToken, nil
	}
	return s.refresh(ctx, "")
}

// Refresh is for a server's refusal of the access token rejected: it
// returns a new access token, refreshed unless the token file already
// holds a fresh one other than rejected (another connection or process
// refreshed in the meantime).
func (s *Source) Refresh(ctx context.Context, rejected string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refresh(ctx, rejected)
}

// refresh reads the token file and refreshes under the token lock, so that
// no two refreshers use one refresh token: a provider that rotates refresh
// tokens would refuse the second.
func (s *Source) refresh(ctx context.Context, rejected string) (string, error) {
	unlock, err := s.store.lock(ctx)
	if err != nil {
		return "", err
	}
	defer unlock()
	rec, err := s.load()
	if err != nil {
		return "", err
	}
	if (rejected == "" || rec.AccessToken != rejected) && s.fresh(rec) {
		s.cached = rec
		s.warnAge(rec)
		return rec.AccessToken, nil
	}
	if rec.RefreshToken == "" {
		return "", s.needsLogin(nil, "the access token expired and the provider issued no refresh token")
	}
	tok, err := s.exchangeRefresh(ctx, rec.RefreshToken)
	if err != nil {
		return "", err
	}
	s.update(rec, tok)
	if err := s.store.write(rec); err != nil {
		return "", err
	}
	s.cached = rec
	s.warnAge(rec)
	s.cfg.Log.Debug("access token refreshed", "account", s.cfg.Account, "expiry", rec.Expiry)
	return rec.AccessToken, nil
}

// load reads the token file and checks that it belongs to this client.
func (s *Source) load() (*record, error) {
	rec, err := s.store.read()
	switch {
	case errors.Is(err, errNoTokens):
		return nil, s.needsLogin(nil, "no tokens in %s", s.store.dir)
	case err != nil:
		return nil, err
	case rec.ClientID != s.cfg.ClientID || rec.TokenURL != s.cfg.TokenURL:
		return nil, s.needsLogin(nil, "the stored tokens were issued to another client (client_id or provider changed)")
	}
	return rec, nil
}

// exchangeRefresh asks the provider for a new access token.
func (s *Source) exchangeRefresh(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	ctx, cancel := s.requestContext(ctx)
	defer cancel()
	tok, err := s.cfg.oauth2Config("").TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err == nil {
		return tok, nil
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
		return nil, s.needsLogin(nil, "the provider refused the refresh token (%s); it was revoked or has expired",
			oauthErrorText(re, s.secrets(refreshToken)))
	}
	return nil, s.describe(ctx, "refresh the access token", err, s.secrets(refreshToken)...)
}

// requestContext bounds one request and gives golang.org/x/oauth2 the
// HTTP client.
func (s *Source) requestContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, s.cfg.HTTPClient)
	return context.WithTimeout(ctx, s.cfg.RequestTimeout)
}

// secrets lists what must never appear in a message.
func (s *Source) secrets(more ...string) []string {
	out := append([]string{s.cfg.ClientSecret}, more...)
	if s.cached != nil {
		out = append(out, s.cached.AccessToken, s.cached.RefreshToken)
	}
	return out
}

// update puts a refreshed token into rec. A provider that sends no new
// refresh token keeps the old one valid (golang.org/x/oauth2 carries it
// over); one that sends a new one has rotated it.
func (s *Source) update(rec *record, tok *oauth2.Token) {
	now := s.cfg.Now()
	rec.AccessToken, rec.TokenType, rec.Issued, rec.Expiry = tok.AccessToken, tok.TokenType, now, tok.Expiry
	if tok.RefreshToken != "" && tok.RefreshToken != rec.RefreshToken {
		rec.RefreshToken, rec.RefreshFrom = tok.RefreshToken, now
	}
	if sc := grantedScopes(tok); len(sc) > 0 {
		rec.Scopes = sc
	}
}

// grantedScopes is the scope parameter of a token response, if any.
func grantedScopes(tok *oauth2.Token) []string {
	sc, _ := tok.Extra("scope").(string)
	return strings.Fields(sc)
}

// fresh reports whether rec's access token has more than the margin left.
// The margin is at most half the token's lifetime, so that a provider's
// short-lived tokens are not refreshed at every use.
func (s *Source) fresh(rec *record) bool {
	if rec == nil || rec.AccessToken == "" {
		return false
	}
	if rec.Expiry.IsZero() {
		return true
	}
	margin := s.cfg.Margin
	if life := rec.Expiry.Sub(rec.Issued); life > 0 && life/2 < margin {
		margin = life / 2
	}
	return s.cfg.Now().Add(margin).Before(rec.Expiry)
}

// warnAge logs, once per Source, that a Google refresh token is near the
// 7 days after which Google expires the tokens of apps in "Testing".
func (s *Source) warnAge(rec *record) {
	if s.warned || !s.testingAgeNear(rec) {
		return
	}
	s.warned = true
	s.cfg.Log.Warn(ageWarning(s.cfg.Account, s.cfg.Now().Sub(rec.RefreshFrom)), "account", s.cfg.Account)
}

func (s *Source) testingAgeNear(rec *record) bool {
	return s.cfg.Provider == Google && rec != nil && !rec.RefreshFrom.IsZero() &&
		s.cfg.Now().Sub(rec.RefreshFrom) > googleTestingAge
}

func ageWarning(account string, age time.Duration) string {
	return "the refresh token is " + days(age) + " old: Google expires the refresh tokens of apps in \"Testing\" status after 7 days; " +
		"publish the app (\"In production\"), or run `mailkeep auth login " + account + "` again within the week"
}

func days(d time.Duration) string {
	n := int(d / (24 * time.Hour))
	if n == 1 {
		return "1 day"
	}
	return strconv.Itoa(n) + " days"
}
