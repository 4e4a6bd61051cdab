package oauth

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/internal/logtest"
	"github.com/mailkeep/mailkeep/internal/oauthtest"
)

// clock is a settable time for tests of expiry.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is a test provider and a configuration for it.
type env struct {
	srv   *oauthtest.Server
	cfg   Config
	clock *clock
	log   *logtest.Buffer
}

const testClientSecret = "cs-very-secret-client"

func newEnv(t *testing.T, opts oauthtest.Options) *env {
	t.Helper()
	if opts.ClientSecret == "" {
		opts.ClientSecret = testClientSecret
	}
	srv := oauthtest.Start(t, opts)
	e := &env{srv: srv, clock: newClock(), log: &logtest.Buffer{}}
	e.cfg = Config{
		Account: "work", Provider: Custom, ClientID: srv.ClientID(), ClientSecret: opts.ClientSecret,
		AuthURL: srv.AuthURL(), DeviceAuthURL: srv.DeviceAuthURL(), TokenURL: srv.TokenURL(),
		RevocationURL: srv.RevocationURL(), Scopes: []string{"mail"}, StateDir: t.TempDir() + "/state",
		RequestTimeout: 5 * time.Second, Now: e.clock.Now,
		Log: slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	return e
}

func (e *env) source(t *testing.T) *Source {
	t.Helper()
	s, err := New(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// login signs the account in with the browser flow, the test playing the
// browser.
func (e *env) login(t *testing.T) *Source {
	t.Helper()
	s := e.source(t)
	if err := s.Login(t.Context(), LoginOptions{Flow: FlowBrowser, OpenURL: browse(t)}); err != nil {
		t.Fatalf("login: %v", err)
	}
	return s
}

// browse returns an OpenURL that follows the authorization URL to the
// loopback redirect, as a browser would, in the background.
func browse(t *testing.T) func(string) {
	return func(u string) {
		go func() {
			resp, err := http.Get(u)
			if err != nil {
				t.Errorf("browser: %v", err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
}

// noLeak fails the test if text holds a token or code the provider issued,
// or the client secret.
func (e *env) noLeak(t *testing.T, what, text string) {
	t.Helper()
	for _, sec := range append(e.srv.Issued(), testClientSecret) {
		if strings.Contains(text, sec) {
			t.Errorf("%s holds a secret (%.6s…):\n%s", what, sec, text)
		}
	}
}

var userCodeRE = regexp.MustCompile(`enter the code\s+(\S+)`)

// waitFor polls cond until it holds or the test's time runs out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
