package oauth

import (
	"errors"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/internal/logtest"
	"github.com/mailkeep/mailkeep/internal/oauthtest"
)

// The device flow end to end: the user reads the code, opens the
// verification URL and approves; the client polls through
// authorization_pending and stores the tokens.
func TestDeviceLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, oauthtest.Options{})
	s := e.source(t)
	out := &logtest.Buffer{}
	go func() { // the user
		var code string
		waitFor(t, "the user code", func() bool {
			m := userCodeRE.FindStringSubmatch(out.String())
			if m != nil {
				code = m[1]
			}
			return m != nil
		})
		resp, err := http.Get(e.srv.VerificationURL() + "?user_code=" + url.QueryEscape(code))
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("approve: %v %v", resp, err)
		}
	}()
	if err := s.Login(t.Context(), LoginOptions{Flow: FlowDevice, Out: out}); err != nil {
		t.Fatalf("Login: %v\n%s", err, out)
	}
	if !strings.Contains(out.String(), e.srv.VerificationURL()) || !strings.Contains(out.String(), "Signed in.") {
		t.Errorf("instructions lack the URL or the result:\n%s", out)
	}
	tok, err := e.source(t).Token(t.Context())
	if err != nil || !strings.HasPrefix(tok, "at-") {
		t.Fatalf("Token after login = %q, %v", tok, err)
	}
	if n := e.srv.Count("refresh"); n != 0 {
		t.Errorf("%d refreshes right after login", n)
	}
	checkModes(t, s)
}

func checkModes(t *testing.T, s *Source) {
	t.Helper()
	for path, want := range map[string]os.FileMode{s.TokenFile(): 0o600, s.store.dir: 0o700, s.store.lockPath(): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", path, fi.Mode().Perm(), want)
		}
	}
}

// A provider that says slow_down makes the client poll more slowly, not
// fail (RFC 8628 section 3.5).
func TestDeviceLoginSlowDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, oauthtest.Options{AutoApprove: true})
	e.srv.SlowDown(1)
	start := time.Now()
	if err := e.source(t).Login(t.Context(), LoginOptions{Flow: FlowDevice}); err != nil {
		t.Fatalf("Login: %v", err)
	}
	if e.srv.Count("slow_down") != 1 {
		t.Errorf("slow_down answered %d times, want 1", e.srv.Count("slow_down"))
	}
	if d := time.Since(start); d < 6*time.Second {
		t.Errorf("login took %v: the interval did not grow by 5 s after slow_down", d)
	}
}

func TestDeviceLoginDenied(t *testing.T) {
	t.Parallel()
	e := newEnv(t, oauthtest.Options{})
	out := &logtest.Buffer{}
	go func() {
		waitFor(t, "the user code", func() bool {
			m := userCodeRE.FindStringSubmatch(out.String())
			return m != nil && e.srv.Deny(m[1])
		})
	}()
	err := e.source(t).Login(t.Context(), LoginOptions{Flow: FlowDevice, Out: out})
	if err == nil || err.Error() != "sign-in refused (access_denied)" {
		t.Errorf("Login error = %v, want the refusal", err)
	}
}

// Google's device flow does not grant the mail scope: mailkeep says so
// before asking Google anything.
func TestGoogleDeviceRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, oauthtest.Options{})
	e.cfg.Provider, e.cfg.Scopes = Google, []string{GoogleMailScope}
	s := e.source(t)
	if s.DefaultFlow() != FlowBrowser {
		t.Errorf("google's default flow is %q, want browser", s.DefaultFlow())
	}
	err := s.Login(t.Context(), LoginOptions{Flow: FlowDevice})
	if !errors.Is(err, ErrGoogleDevice) || !strings.Contains(err.Error(), "does not allow the https://mail.google.com/ scope") {
		t.Errorf("Login error = %v, want ErrGoogleDevice", err)
	}
	if n := e.srv.Count("device"); n != 0 {
		t.Errorf("asked the provider %d times", n)
	}
}

func TestDefaultFlows(t *testing.T) {
	for _, tt := range []struct {
		provider, device string
		want             Flow
	}{
		{Google, "https://x/device", FlowBrowser},
		{Microsoft, "https://x/device", FlowDevice},
		{Custom, "https://x/device", FlowDevice},
		{Custom, "", FlowBrowser},
	} {
		s, err := New(Config{Account: "a", Provider: tt.provider, ClientID: "c", TokenURL: "https://x/t",
			DeviceAuthURL: tt.device, StateDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.DefaultFlow(); got != tt.want {
			t.Errorf("%s (device %q): %q, want %q", tt.provider, tt.device, got, tt.want)
		}
	}
}

// The browser flow: authorization code with PKCE, the test playing the
// browser. A request to the redirect listener with a wrong state is turned
// away and does not end the sign-in.
func TestBrowserLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, oauthtest.Options{})
	s := e.source(t)
	out := &logtest.Buffer{}
	open := func(authURL string) {
		u, _ := url.Parse(authURL)
		redirect := u.Query().Get("redirect_uri")
		if u.Query().Get("code_challenge_method") != "S256" || u.Query().Get("code_challenge") == "" {
			t.Errorf("authorization URL without a PKCE challenge: %s", authURL)
		}
		resp, err := http.Get(redirect + "?code=forged&state=wrong")
		if err != nil || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("redirect with a wrong state: %v %v, want 400", resp, err)
		}
		browse(t)(authURL)
	}
	if err := s.Login(t.Context(), LoginOptions{Flow: FlowBrowser, Out: out, OpenURL: open}); err != nil {
		t.Fatalf("Login: %v\n%s", err, out)
	}
	if !strings.Contains(out.String(), "http://127.0.0.1:") {
		t.Errorf("instructions lack the redirect address:\n%s", out)
	}
	if tok, err := e.source(t).Token(t.Context()); err != nil || !strings.HasPrefix(tok, "at-") {
		t.Errorf("Token after login = %q, %v", tok, err)
	}
	if e.srv.Count("authorization_code") != 1 {
		t.Errorf("%d code exchanges, want 1", e.srv.Count("authorization_code"))
	}
	checkModes(t, s)
}

// The provider's refusal, brought back by the browser, ends the sign-in
// with its reason.
func TestBrowserLoginRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, oauthtest.Options{})
	open := func(authURL string) {
		u, _ := url.Parse(authURL)
		q := u.Query()
		go http.Get(q.Get("redirect_uri") + "?error=access_denied&state=" + url.QueryEscape(q.Get("state")))
	}
	err := e.source(t).Login(t.Context(), LoginOptions{Flow: FlowBrowser, OpenURL: open})
	if err == nil || !strings.Contains(err.Error(), "sign-in refused: access_denied") {
		t.Errorf("Login error = %v", err)
	}
}

// A sign-in nobody completes ends with the context.
func TestBrowserLoginCancelled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, oauthtest.Options{})
	ctx, cancel := contextWithTimeout(t, 100*time.Millisecond)
	defer cancel()
	err := e.source(t).Login(ctx, LoginOptions{Flow: FlowBrowser})
	if err == nil || !strings.Contains(err.Error(), "waiting for the browser") {
		t.Errorf("Login error = %v", err)
	}
}

func TestMicrosoftRedirectIsLocalhost(t *testing.T) {
	s, err := New(Config{Account: "a", Provider: Microsoft, ClientID: "c", TokenURL: "https://x/t", StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.redirectURL(5000); got != "http://localhost:5000/" {
		t.Errorf("redirect %q", got)
	}
}
