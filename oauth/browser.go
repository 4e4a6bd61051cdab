package oauth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/oauth2"
)

// browserLogin runs the authorization code grant with PKCE (RFC 7636, S256)
// and a loopback redirect (RFC 8252): it listens on 127.0.0.1, shows the
// authorization URL, and exchanges the code that the browser brings back
// with the right state.
func (s *Source) browserLogin(ctx context.Context, opts LoginOptions) (*oauth2.Token, error) {
	if s.cfg.AuthURL == "" {
		return nil, errors.New("the provider has no authorization endpoint (authorization_url); use the device flow")
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(opts.Port)))
	if err != nil {
		return nil, fmt.Errorf("listen for the browser's redirect: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	oc := s.cfg.oauth2Config(s.redirectURL(port))
	state, verifier := randomString(), oauth2.GenerateVerifier()
	authURL := oc.AuthCodeURL(state, s.authCodeOptions(verifier)...)
	results := make(chan callback, 1)
	srv := &http.Server{Handler: &redirectHandler{state: state, results: results}, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	if ln6 := s.listenIPv6(port); ln6 != nil {
		go srv.Serve(ln6)
	}
	defer shutdown(srv)
	fmt.Fprintf(opts.Out, "To sign in account %q, open this URL in a browser on this machine:\n\n    %s\n\nWaiting for the browser to come back to %s ...\n",
		s.cfg.Account, authURL, oc.RedirectURL)
	if opts.OpenURL != nil {
		opts.OpenURL(authURL)
	}
	var cb callback
	select {
	case cb = <-results:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the browser: %w", ctx.Err())
	}
	if cb.err != nil {
		return nil, cb.err
	}
	rctx, cancel := s.requestContext(ctx)
	defer cancel()
	tok, err := oc.Exchange(rctx, cb.code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, s.describe(rctx, "exchange the authorization code", err, s.cfg.ClientSecret, cb.code, verifier)
	}
	return tok, nil
}

// shutdown lets the browser have its page, briefly, then stops listening.
func shutdown(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if srv.Shutdown(ctx) != nil {
		srv.Close()
	}
}

// redirectURL is where the provider sends the browser back. Microsoft
// matches the registered "http://localhost" (any port); Google and most
// others take the loopback address, as RFC 8252 recommends.
func (s *Source) redirectURL(port int) string {
	host := "127.0.0.1"
	if s.cfg.Provider == Microsoft {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/"
}

// listenIPv6 also listens on [::1] when the redirect names "localhost",
// which a browser may resolve to ::1 first. It is best effort.
func (s *Source) listenIPv6(port int) net.Listener {
	if s.cfg.Provider != Microsoft {
		return nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("::1", strconv.Itoa(port)))
	if err != nil {
		return nil
	}
	return ln
}

// authCodeOptions are the PKCE challenge and, for Google, what makes it
// issue a refresh token at every sign-in.
func (s *Source) authCodeOptions(verifier string) []oauth2.AuthCodeOption {
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	if s.cfg.Provider == Google {
		opts = append(opts, oauth2.AccessTypeOffline, oauth2.SetAuthURLParam("prompt", "consent"))
	}
	return opts
}

func randomString() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// callback is what the browser brought back: a code, or the provider's
// refusal.
type callback struct {
	code string
	err  error
}

// redirectHandler receives the browser at the redirect URL. A request
// without the right state is answered with an error and otherwise ignored:
// it did not come from this sign-in. The first one with the right state
// ends the wait.
type redirectHandler struct {
	state   string
	results chan<- callback
}

func (h *redirectHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.URL.Path != "/" || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(h.state)) != 1 {
		page(w, http.StatusBadRequest, "This is not the answer to mailkeep's sign-in request (the state does not match). Start the sign-in again from mailkeep.")
		return
	}
	var cb callback
	switch {
	case q.Get("error") != "":
		cb.err = fmt.Errorf("sign-in refused: %s", scrub(q.Get("error")+" "+q.Get("error_description"), nil))
		page(w, http.StatusOK, "Sign-in refused. You can close this window.")
	case q.Get("code") == "":
		page(w, http.StatusBadRequest, "The answer holds no authorization code.")
		return
	default:
		cb.code = q.Get("code")
		page(w, http.StatusOK, "Signed in. You can close this window and go back to mailkeep.")
	}
	select {
	case h.results <- cb:
	default: // a second answer with the right state: the first one counts
	}
}

func page(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	io.WriteString(w, "<!doctype html><title>mailkeep</title><p>"+html.EscapeString(msg)+"</p>\n")
}
