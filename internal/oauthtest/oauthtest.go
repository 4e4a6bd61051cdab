// Package oauthtest runs an OAuth2 provider on loopback for tests: the
// token endpoint of RFC 6749 (grants refresh_token, authorization_code and
// the device_code of RFC 8628), device authorization with
// authorization_pending and slow_down, PKCE (RFC 7636, S256 only), token
// revocation (RFC 7009), and the token introspection endpoint (RFC 7662)
// that Dovecot's oauth2 passdb calls: it answers {"active":true,
// "username":USER} for a live access token and {"active":false} for
// anything else.
//
// It is written for tests rather than taken from a server library because
// tests must also make it misbehave: expire access tokens at once, revoke
// refresh tokens, rotate them, answer slowly, or answer with an HTML error
// page, as real providers do.
//
// The package is meant for _test.go files only.
package oauthtest

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Options configure Start. The zero value serves a public client "mailkeep"
// that signs in as "alice".
type Options struct {
	ClientID     string        // default "mailkeep"
	ClientSecret string        // if set, the token endpoint requires it
	User         string        // whom sign-ins approve; default "alice"
	AccessTTL    time.Duration // lifetime of access tokens; default 1h
	// RotateRefresh issues a new refresh token at each refresh and revokes
	// the one used, as strict rotation (OAuth 2.1) demands.
	RotateRefresh bool
	// AutoApprove approves each device authorization at the first poll
	// that follows it; otherwise the test approves (Approve, or a GET of
	// the verification URL, as the user's browser would).
	AutoApprove bool
	// DeviceInterval is the polling interval given to device clients, in
	// seconds; default 1.
	DeviceInterval int
}

// Server is a running test provider.
type Server struct {
	URL string // http://127.0.0.1:port

	opts Options
	srv  *httptest.Server

	mu        sync.Mutex
	access    map[string]*grant // live access tokens
	refresh   map[string]*grant // live refresh tokens
	codes     map[string]*authCode
	devices   map[string]*device // by device code
	issued    []string           // every token and code ever issued
	delay     time.Duration      // before each answer of the token and device endpoints
	errorPage int                // answer the token and device endpoints with this status and HTML
	slowDowns int                // device polls still to answer slow_down
	counts    map[string]int     // requests by kind
}

// grant is what a token stands for.
type grant struct {
	user    string
	scope   string
	refresh string // the refresh token an access token came from
}

type authCode struct {
	grant
	redirectURI, challenge string
}

type device struct {
	grant
	userCode  string
	approved  bool
	denied    bool
	expires   time.Time
	lastPoll  time.Time
	polledYet bool
}

// Start starts a provider on a loopback port and stops it at test cleanup.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.ClientID == "" {
		opts.ClientID = "mailkeep"
	}
	if opts.User == "" {
		opts.User = "alice"
	}
	if opts.AccessTTL == 0 {
		opts.AccessTTL = time.Hour
	}
	if opts.DeviceInterval == 0 {
		opts.DeviceInterval = 1
	}
	s := &Server{opts: opts, access: map[string]*grant{}, refresh: map[string]*grant{},
		codes: map[string]*authCode{}, devices: map[string]*device{}, counts: map[string]int{}}
	s.srv = httptest.NewServer(s.routes())
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// Endpoint URLs.
func (s *Server) AuthURL() string          { return s.URL + "/authorize" }
func (s *Server) DeviceAuthURL() string    { return s.URL + "/device" }
func (s *Server) TokenURL() string         { return s.URL + "/token" }
func (s *Server) RevocationURL() string    { return s.URL + "/revoke" }
func (s *Server) IntrospectionURL() string { return s.URL + "/introspect" }
func (s *Server) VerificationURL() string  { return s.URL + "/verify" }

// ClientID is the client the provider knows.
func (s *Server) ClientID() string { return s.opts.ClientID }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /device", s.faulty(s.deviceAuthorization))
	mux.HandleFunc("POST /token", s.faulty(s.token))
	mux.HandleFunc("POST /revoke", s.faulty(s.revoke))
	mux.HandleFunc("GET /authorize", s.authorize)
	mux.HandleFunc("GET /verify", s.verify)
	mux.HandleFunc("POST /introspect", s.introspect)
	return mux
}

// faulty applies the configured delay and error page to h.
func (s *Server) faulty(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		delay, status := s.delay, s.errorPage
		s.mu.Unlock()
		// With the body read, the server notices a client that gives up,
		// which ends r.Context().
		r.ParseForm()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		if status != 0 {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(status)
			w.Write([]byte("<html><body><h1>" + http.StatusText(status) + "</h1><p>The server is having a bad day.</p></body></html>\n"))
			return
		}
		h(w, r)
	}
}

// ExpireAccessTokens makes every access token issued so far invalid, as if
// its lifetime had ended; the clients still believe them valid.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.access)
}

// RevokeRefreshTokens revokes every refresh token (and access token), as a
// user who removes the app's access, or an expiry, does.
func (s *Server) RevokeRefreshTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.refresh)
	clear(s.access)
}

// SetDelay makes the token, device and revocation endpoints wait d before
// answering (0 = at once). The wait ends early when the client gives up.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetErrorPage makes the token, device and revocation endpoints answer with
// status and an HTML page, as a proxy in trouble does (0 = normal answers).
func (s *Server) SetErrorPage(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errorPage = status
}

// SlowDown makes the next n device polls answer slow_down.
func (s *Server) SlowDown(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slowDowns = n
}

// Count returns how many requests of a kind were answered: "refresh",
// "authorization_code", "device_code", "device", "introspect", "revoke",
// "authorize", "slow_down", "authorization_pending".
func (s *Server) Count(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[kind]
}

// Issued returns every token and code the provider has issued, for tests
// that check none of them leaks.
func (s *Server) Issued() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issued...)
}

// Approve approves the pending device authorization with userCode as user.
// It reports whether there was one.
func (s *Server) Approve(userCode, user string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.devices {
		if d.userCode == userCode && !d.denied {
			d.approved, d.user = true, user
			return true
		}
	}
	return false
}

// Deny refuses the pending device authorization with userCode.
func (s *Server) Deny(userCode string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.devices {
		if d.userCode == userCode {
			d.denied = true
			return true
		}
	}
	return false
}

// Grant issues tokens for user as a completed sign-in would, for tests
// that start signed in. It returns the access and refresh tokens.
func (s *Server) Grant(user, scope string) (access, refresh string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issueLocked(grant{user: user, scope: scope}, true)
}

// issueLocked issues an access token for g and, if withRefresh, a new
// refresh token; otherwise the access token belongs to g.refresh.
func (s *Server) issueLocked(g grant, withRefresh bool) (access, refresh string) {
	if withRefresh {
		g.refresh = s.newSecretLocked("rt-")
		s.refresh[g.refresh] = &grant{user: g.user, scope: g.scope}
	}
	access = s.newSecretLocked("at-")
	s.access[access] = &grant{user: g.user, scope: g.scope, refresh: g.refresh}
	return access, g.refresh
}

func (s *Server) newSecretLocked(prefix string) string {
	b := make([]byte, 16)
	rand.Read(b)
	v := prefix + hex.EncodeToString(b)
	s.issued = append(s.issued, v)
	return v
}
