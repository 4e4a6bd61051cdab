package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/internal/oauthtest"
)

func contextWithTimeout(t *testing.T, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.Context(), d)
}

func TestTokenWithoutLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, oauthtest.Options{})
	_, err := e.source(t).Token(t.Context())
	if !errors.Is(err, ErrNeedsLogin) {
		t.Fatalf("Token error = %v, want ErrNeedsLogin", err)
	}
	want := fmt.Sprintf("account \"work\" needs login: no tokens in %s/oauth2: run `mailkeep auth login work`", e.cfg.StateDir)
	if err.Error() != want {
		t.Errorf("error\n got %s\nwant %s", err, want)
	}
}

// The access token is refreshed once it is within the margin of its
// expiry, and not before.
func TestRefreshBeforeExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, oauthtest.Options{}) // tokens live 1 h
	first, err := e.login(t).Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s := e.source(t)
	e.clock.Advance(50 * time.Minute)
	if tok, err := s.Token(t.Context()); err != nil || tok != first || e.srv.Count("refresh") != 0 {
		t.Fatalf("at 50 min: %q, %v, %d refreshes; want the first token, no refresh", tok, err, e.srv.Count("refresh"))
	}
	e.clock.Advance(6 * time.Minute)
	second, err := s.Token(t.Context())
	if err != nil || second == first || e.srv.Count("refresh") != 1 {
		t.Fatalf("at 56 min: %v, %d refreshes; want a new token from one refresh", err, e.srv.Count("refresh"))
	}
	if tok, _ := e.source(t).Token(t.Context()); tok != second {
		t.Errorf("another source does not read the refreshed token from the file")
	}
	if !strings.Contains(e.log.String(), "access token refreshed") {
		t.Errorf("no log of the refresh:\n%s", e.log)
	}
	e.noLeak(t, "the log", e.log.String())
}

// Refresh after a server's refusal refreshes even a token that has not
// expired, but only once for many connections refused together.
func TestRefreshAfterRefusal(t *testing.T) {
	t.Parallel()
	e := newEnv(t, oauthtest.Options{})
	s := e.login(t)
	rejected, _ := s.Token(t.Context())
	var wg sync.WaitGroup
	tokens := make([]string, 4)
	for i := range tokens {
		wg.Go(func() {
			tok, err := s.Refresh(t.Context(), rejected)
			if err != nil {
				t.Error(err)
			}
			tokens[i] = tok
		})
	}
	wg.Wait()
	for _, tok := range tokens {
		if tok == rejected || tok != tokens[0] {
			t.Errorf("tokens after refresh %q, rejected %q", tokens, rejected)
		}
	}
	if n := e.srv.Count("refresh"); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
}

// Two processes (two Sources, each with its own lock file descriptor)
// refreshing at once against a provider that rotates refresh tokens: each
// refresh uses the refresh token the other stored, so none is refused and
// the stored one still works.
func TestConcurrentRefreshersKeepRotatedToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, oauthtest.Options{RotateRefresh: true})
	e.login(t)
	sources := []*Source{e.source(t), e.source(t)}
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			s := sources[i%2]
			for range 3 {
				tok, err := s.Token(t.Context())
				if err == nil {
					_, err = s.Refresh(t.Context(), tok)
				}
				if err != nil {
					t.Errorf("refresher %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := e.srv.Count("refresh"); n < 2 {
		t.Errorf("%d refreshes, want several", n)
	}
	fresh := e.source(t)
	tok, _ := fresh.Token(t.Context())
	if _, err := fresh.Refresh(t.Context(), tok); err != nil {
		t.Errorf("the stored refresh token no longer works: %v", err)
	}
}

// A revoked refresh token is ErrNeedsLogin with the command to run, and
// no token in the message.
func TestRevokedRefreshToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, oauthtest.Options{})
	s := e.login(t)
	tok, _ := s.Token(t.Context())
	e.srv.RevokeRefreshTokens()
	_, err := s.Refresh(t.Context(), tok)
	if !errors.Is(err, ErrNeedsLogin) || Temporary(err) {
		t.Fatalf("Refresh error = %v, want ErrNeedsLogin", err)
	}
	want := "account \"work\" needs login: the provider refused the refresh token (invalid_grant: Token has been expired or revoked.); " +
		"it was revoked or has expired: run `mailkeep auth login work`"
	if err.Error() != want {
		t.Errorf("error\n got %s\nwant %s", err, want)
	}
	e.noLeak(t, "the error", err.Error())
}

// A provider that does not answer in time fails the refresh within the
// request timeout, as a temporary error.
func TestSlowProvider(t *testing.T) {
	t.Parallel()
	e := newEnv(t, oauthtest.Options{})
	s := e.login(t)
	tok, _ := s.Token(t.Context())
	e.srv.SetDelay(10 * time.Second)
	s.cfg.RequestTimeout = 300 * time.Millisecond
	start := time.Now()
	_, err := s.Refresh(t.Context(), tok)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("refresh took %v with a 300ms timeout", d)
	}
	if err == nil || !Temporary(err) || !strings.Contains(err.Error(), "did not answer within 300ms") ||
		!errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Refresh error = %v, want a temporary timeout", err)
	}
	// The context of the caller bounds it too.
	s.cfg.RequestTimeout = time.Minute
	ctx, cancel := contextWithTimeout(t, 200*time.Millisecond)
	defer cancel()
	if _, err := s.Refresh(ctx, tok); err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("Refresh with an ending context = %v", err)
	}
}

// An HTML error page instead of a token response is a clear, temporary
// error without the page in it.
func TestErrorPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, oauthtest.Options{})
	s := e.login(t)
	tok, _ := s.Token(t.Context())
	e.srv.SetErrorPage(http.StatusBadGateway)
	_, err := s.Refresh(t.Context(), tok)
	want := "refresh the access token: " + strings.TrimPrefix(e.srv.URL, "http://") + " answered 502 Bad Gateway (text/html), not an OAuth2 response"
	if err == nil || err.Error() != want || !Temporary(err) || errors.Is(err, ErrNeedsLogin) {
		t.Errorf("Refresh error\n got %v\nwant %s (temporary)", err, want)
	}
	e.srv.SetErrorPage(http.StatusNotFound)
	if _, err := s.Refresh(t.Context(), tok); err == nil || Temporary(err) {
		t.Errorf("a 404 page: %v, want a permanent error", err)
	}
	e.srv.SetErrorPage(0)
	if _, err := s.Refresh(t.Context(), tok); err != nil {
		t.Errorf("after the outage: %v", err)
	}
}

// A wrong client secret is the provider's invalid_client, said plainly and
// without the secret.
func TestWrongClientSecret(t *testing.T) {
	t.Parallel()
	e := newEnv(t, oauthtest.Options{})
	e.login(t)
	e.cfg.ClientSecret = "cs-wrong-" + testClientSecret
	s := e.source(t)
	e.clock.Advance(2 * time.Hour)
	_, err := s.Token(t.Context())
	if err == nil || errors.Is(err, ErrNeedsLogin) || !strings.Contains(err.Error(), "the provider answered invalid_client") {
		t.Errorf("Token error = %v", err)
	}
	e.noLeak(t, "the error", err.Error())
}

// Tokens from another client_id are not sent to this one's provider.
func TestTokensOfAnotherClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, oauthtest.Options{})
	e.login(t)
	e.cfg.ClientID = "other"
	_, err := e.source(t).Token(t.Context())
	if !errors.Is(err, ErrNeedsLogin) || !strings.Contains(err.Error(), "issued to another client") {
		t.Errorf("Token error = %v", err)
	}
}

// The token file is replaced by rename, never rewritten in place: a
// reader sees the old file or the new one, whole, and no temporary files
// stay behind.
func TestTokenFileReplacedAtomically(t *testing.T) {
	t.Parallel()
	e := newEnv(t, oauthtest.Options{RotateRefresh: true})
	s := e.login(t)
	// Holding the first file open keeps its inode from being reused.
	old, err := os.Open(s.TokenFile())
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	before, _ := old.Stat()
	stop := make(chan struct{})
	var reads int
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			data, err := os.ReadFile(s.TokenFile())
			var r record
			if err != nil || json.Unmarshal(data, &r) != nil || r.RefreshToken == "" {
				t.Errorf("a reader saw a partial token file: %v %q", err, data)
				return
			}
			reads++
		}
	})
	for range 20 {
		tok, err := s.Token(t.Context())
		if err == nil {
			_, err = s.Refresh(t.Context(), tok)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	after, _ := os.Stat(s.TokenFile())
	if os.SameFile(before, after) {
		t.Error("the token file was rewritten in place")
	}
	entries, _ := os.ReadDir(filepath.Dir(s.TokenFile()))
	for _, de := range entries {
		if strings.Contains(de.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", de.Name())
		}
	}
	checkModes(t, s)
	if reads == 0 {
		t.Log("the reader never ran")
	}
}

// A token directory that others can read is made owner-only.
func TestTokenDirTightened(t *testing.T) {
	t.Parallel()
	e := newEnv(t, oauthtest.Options{})
	dir := e.cfg.StateDir + "/oauth2"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	s := e.login(t)
	checkModes(t, s)
}

func TestLogout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, oauthtest.Options{})
	s := e.login(t)
	res, err := s.Logout(t.Context())
	if err != nil || !res.Removed || !res.Revoked || res.RevokeErr != nil {
		t.Fatalf("Logout = %+v, %v", res, err)
	}
	if _, err := os.Stat(s.TokenFile()); !os.IsNotExist(err) {
		t.Errorf("token file still there: %v", err)
	}
	if e.srv.Count("revoke") != 1 {
		t.Errorf("%d revocations", e.srv.Count("revoke"))
	}
	if _, err := s.Token(t.Context()); !errors.Is(err, ErrNeedsLogin) {
		t.Errorf("Token after logout: %v", err)
	}
	res, err = s.Logout(t.Context())
	if err != nil || res.Removed {
		t.Errorf("second Logout = %+v, %v", res, err)
	}
}

// A provider that cannot revoke does not keep the tokens on disk.
func TestLogoutRevocationFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, oauthtest.Options{})
	s := e.login(t)
	e.srv.SetErrorPage(http.StatusServiceUnavailable)
	res, err := s.Logout(t.Context())
	if err != nil || !res.Removed || res.Revoked || res.RevokeErr == nil {
		t.Fatalf("Logout = %+v, %v", res, err)
	}
	e.noLeak(t, "the revocation error", res.RevokeErr.Error())
}

func TestStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t, oauthtest.Options{})
	s := e.source(t)
	st, err := s.Status()
	if err != nil || st.HasTokens || !strings.Contains(st.Problem, "run `mailkeep auth login work`") {
		t.Errorf("Status before login = %+v, %v", st, err)
	}
	e.login(t)
	st, err = s.Status()
	if err != nil || !st.HasTokens || !st.HasRefresh || st.Problem != "" || st.Warning != "" ||
		st.AccessExpiry.Before(time.Now().Add(50*time.Minute)) || strings.Join(st.Scopes, " ") != "mail" {
		t.Errorf("Status after login = %+v, %v", st, err)
	}
	e.noLeak(t, "the status", fmt.Sprintf("%+v %#v", st, st))
}

// A Google refresh token older than six days draws a warning, once, in
// the log and in the status.
func TestGoogleTokenAge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, oauthtest.Options{})
	e.cfg.Provider = Google
	s := e.login(t)
	if _, err := s.Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(e.log.String(), "Testing") {
		t.Errorf("warning right after login:\n%s", e.log)
	}
	e.clock.Advance(6*24*time.Hour + time.Hour)
	for range 3 {
		if _, err := s.Token(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(e.log.String(), "after 7 days"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, e.log)
	}
	st, _ := s.Status()
	if !strings.Contains(st.Warning, "the refresh token is 6 days old") || !strings.Contains(st.Warning, "mailkeep auth login work") {
		t.Errorf("status warning %q", st.Warning)
	}
	e.cfg.Provider = Custom
	if st, _ := e.source(t).Status(); st.Warning != "" {
		t.Errorf("warning for a custom provider: %q", st.Warning)
	}
}

// Waiting for the token lock ends with the context.
func TestLockWaitEndsWithContext(t *testing.T) {
	t.Parallel()
	e := newEnv(t, oauthtest.Options{})
	s := e.login(t)
	unlock, err := s.store.lock(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := contextWithTimeout(t, 100*time.Millisecond)
	defer cancel()
	e.clock.Advance(2 * time.Hour)
	if _, err := e.source(t).Token(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Token while locked = %v, want the context's deadline", err)
	}
}

func TestNewChecks(t *testing.T) {
	_, err := New(Config{Account: "../x", Provider: "yahoo"})
	if err == nil || !strings.Contains(err.Error(), "cannot name a token file") || !strings.Contains(err.Error(), `unknown provider "yahoo"`) {
		t.Errorf("New error = %v", err)
	}
}
