package oauth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/config"

	"github.com/mailkeep/mailkeep/internal/dovecottest"
	"github.com/mailkeep/mailkeep/internal/oauthtest"
	"github.com/mailkeep/mailkeep/oauth"
	"github.com/mailkeep/mailkeep/pop3"
	"github.com/mailkeep/mailkeep/transport"
)

// These tests log in to a real Dovecot whose oauth2 passdb asks the test
// provider about each token, over IMAP and POP3 with XOAUTH2 and
// OAUTHBEARER.

// conn is an IMAP or POP3 connection, as far as these tests need one.
type conn interface {
	ping(ctx context.Context) error
	close()
}

type setup struct {
	provider *oauthtest.Server
	dovecot  *dovecottest.Server
	cfg      oauth.Config
	proto    string // "imap" or "pop3"
	mech     string // "xoauth2" or "oauthbearer"
	log      *strings.Builder
	logMu    *sync.Mutex
}

func newSetup(t *testing.T, proto, mech string) *setup {
	t.Helper()
	p := oauthtest.Start(t, oauthtest.Options{ClientSecret: "cs-dovecot-client-secret", RotateRefresh: true})
	d := dovecottest.Start(t, dovecottest.Options{Users: []string{"alice"}, OAuth2IntrospectionURL: p.IntrospectionURL()})
	s := &setup{provider: p, dovecot: d, proto: proto, mech: mech, log: &strings.Builder{}, logMu: &sync.Mutex{}}
	s.cfg = oauth.Config{
		Account: "alice", Provider: oauth.Custom, ClientID: p.ClientID(), ClientSecret: "cs-dovecot-client-secret",
		AuthURL: p.AuthURL(), DeviceAuthURL: p.DeviceAuthURL(), TokenURL: p.TokenURL(), RevocationURL: p.RevocationURL(),
		Scopes: []string{"mail"}, StateDir: t.TempDir(), RequestTimeout: 5 * time.Second,
		Log: slog.New(slog.NewTextHandler(lockedWriter{s.logMu, s.log}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	return s
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

func (s *setup) source(t *testing.T) *oauth.Source {
	t.Helper()
	src, err := oauth.New(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// refused is what the dialers' callers pass to oauth.Dial.
func refused(err error) bool {
	return errors.Is(err, transport.ErrAuth) || errors.Is(err, pop3.ErrAuth)
}

// dial logs in as alice through oauth.Dial, as the backup's dialers do.
func (s *setup) dial(ctx context.Context, src *oauth.Source) (conn, error) {
	return oauth.Dial(ctx, src, refused, func(ctx context.Context, token string) (conn, error) {
		if s.proto == "imap" {
			return s.dialIMAP(ctx, token)
		}
		return s.dialPOP3(ctx, token)
	})
}

func (s *setup) dialIMAP(ctx context.Context, token string) (conn, error) {
	host, port := splitAddr(s.dovecot.IMAPAddr)
	ep := transport.Endpoint{Host: host, Port: port, TLS: config.TLSNone, Username: "alice", Auth: s.mech,
		Secret: func(context.Context) (string, error) { return token, nil }}
	c, err := transport.DialIMAP(ctx, ep, transport.IMAPOptions{})
	if err != nil {
		return nil, err
	}
	return imapPing{c}, nil
}

func (s *setup) dialPOP3(ctx context.Context, token string) (conn, error) {
	host, port := splitAddr(s.dovecot.POP3Addr)
	ep := transport.Endpoint{Host: host, Port: port, TLS: config.TLSNone, Username: "alice", Auth: s.mech,
		Secret: func(context.Context) (string, error) { return token, nil }}
	c, err := transport.DialPOP3(ctx, ep, transport.POP3Options{})
	if err != nil {
		return nil, err
	}
	return pop3Ping{c}, nil
}

func splitAddr(addr string) (string, int) {
	host, port, _ := strings.Cut(addr, ":")
	var n int
	fmt.Sscan(port, &n)
	return host, n
}

// each runs f for IMAP and POP3 with each mechanism, in parallel.
func each(t *testing.T, f func(t *testing.T, s *setup)) {
	for _, proto := range []string{"imap", "pop3"} {
		for _, mech := range []string{"xoauth2", "oauthbearer"} {
			t.Run(proto+"/"+mech, func(t *testing.T) {
				t.Parallel()
				f(t, newSetup(t, proto, mech))
			})
		}
	}
}

var userCodeRE = regexp.MustCompile(`enter the code\s+(\S+)`)

// deviceLogin signs alice in with the device flow; the test plays the user
// who reads the code and approves it at the verification URL.
func (s *setup) deviceLogin(t *testing.T) {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := s.source(t).Login(t.Context(), oauth.LoginOptions{Flow: oauth.FlowDevice, Out: pw})
		pw.CloseWithError(err)
		done <- err
	}()
	var out strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := pr.Read(buf)
		out.Write(buf[:n])
		if m := userCodeRE.FindStringSubmatch(out.String()); m != nil {
			resp, err := http.Get(s.provider.VerificationURL() + "?user_code=" + url.QueryEscape(m[1]))
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("approve: %v %v", resp, err)
			}
			resp.Body.Close()
			break
		}
		if err != nil {
			t.Fatalf("no user code in %q: %v", out.String(), err)
		}
	}
	go io.Copy(io.Discard, pr)
	if err := <-done; err != nil {
		t.Fatalf("device login: %v", err)
	}
}

// The device flow end to end, then logins with the stored token from a
// new Source, as a later run would: no refresh is needed.
func TestDovecotDeviceFlowAndStoredToken(t *testing.T) {
	each(t, func(t *testing.T, s *setup) {
		s.deviceLogin(t)
		for range 2 {
			c, err := s.dial(t.Context(), s.source(t))
			if err != nil {
				t.Fatalf("login with the stored token: %v\n%s", err, s.dovecot.LogTail(10))
			}
			c.close()
		}
		if n := s.provider.Count("refresh"); n != 0 {
			t.Errorf("%d refreshes with a fresh token", n)
		}
	})
}

// The access token expires while a run has one connection open: the next
// connection is refused, refreshes once and logs in; the open one goes on.
func TestDovecotRefreshBetweenConnections(t *testing.T) {
	each(t, func(t *testing.T, s *setup) {
		s.deviceLogin(t)
		src := s.source(t)
		first, err := s.dial(t.Context(), src)
		if err != nil {
			t.Fatal(err)
		}
		defer first.close()
		s.provider.ExpireAccessTokens()
		second, err := s.dial(t.Context(), src)
		if err != nil {
			t.Fatalf("second connection after expiry: %v\n%s", err, s.dovecot.LogTail(10))
		}
		defer second.close()
		if n := s.provider.Count("refresh"); n != 1 {
			t.Errorf("%d refreshes, want 1", n)
		}
		if err := first.ping(t.Context()); err != nil {
			t.Errorf("the first connection: %v", err)
		}
		s.noLeak(t, "the log", s.logText())
	})
}

// A revoked refresh token: the server refuses the access token, the
// refresh is refused with invalid_grant, and the run fails with
// ErrNeedsLogin that says what to run.
func TestDovecotRevokedRefreshToken(t *testing.T) {
	each(t, func(t *testing.T, s *setup) {
		s.deviceLogin(t)
		s.provider.RevokeRefreshTokens()
		_, err := s.dial(t.Context(), s.source(t))
		if !errors.Is(err, oauth.ErrNeedsLogin) || !strings.Contains(err.Error(), "run `mailkeep auth login alice`") ||
			!strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("dial error = %v, want ErrNeedsLogin", err)
		}
		s.noLeak(t, "the error", err.Error())
	})
}

// A provider that stalls, or answers with an HTML error page, when the
// refresh is due: the login fails within the request timeout, with a
// clear and temporary error, and without any token in it.
func TestDovecotProviderTrouble(t *testing.T) {
	each(t, func(t *testing.T, s *setup) {
		s.deviceLogin(t)
		s.cfg.RequestTimeout = 300 * time.Millisecond
		s.provider.ExpireAccessTokens()
		s.provider.SetDelay(time.Minute)
		start := time.Now()
		_, err := s.dial(t.Context(), s.source(t))
		if d := time.Since(start); err == nil || !oauth.Temporary(err) || d > 5*time.Second ||
			!strings.Contains(err.Error(), "did not answer within 300ms") {
			t.Errorf("stalled provider: %v after %v", err, d)
		}
		s.noLeak(t, "the error", fmt.Sprint(err))
		s.provider.SetDelay(0)
		s.provider.SetErrorPage(http.StatusServiceUnavailable)
		_, err = s.dial(t.Context(), s.source(t))
		if err == nil || !oauth.Temporary(err) || !strings.Contains(err.Error(), "answered 503 Service Unavailable (text/html), not an OAuth2 response") ||
			strings.Contains(err.Error(), "<") {
			t.Errorf("error page: %v", err)
		}
		s.noLeak(t, "the error", fmt.Sprint(err))
		s.provider.SetErrorPage(0)
		c, err := s.dial(t.Context(), s.source(t))
		if err != nil {
			t.Fatalf("after the trouble: %v", err)
		}
		c.close()
	})
}

func (s *setup) logText() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.log.String()
}

func (s *setup) noLeak(t *testing.T, what, text string) {
	t.Helper()
	for _, sec := range append(s.provider.Issued(), "cs-dovecot-client-secret") {
		if strings.Contains(text, sec) {
			t.Errorf("%s holds a secret (%.6s…):\n%s", what, sec, text)
		}
	}
}
