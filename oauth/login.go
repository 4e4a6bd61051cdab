package oauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/oauth2"
)

// Flow is a way to sign in.
type Flow string

// Flows. FlowDefault is the provider's: the browser for Google (whose
// device flow does not grant the mail scope), the device code otherwise.
const (
	FlowDefault Flow = ""
	FlowDevice  Flow = "device"  // RFC 8628: a URL and a code to enter on any device
	FlowBrowser Flow = "browser" // RFC 6749 authorization code, RFC 7636 PKCE, loopback redirect
)

// ErrGoogleDevice: Google's device flow does not grant the scope that IMAP
// and POP3 need.
var ErrGoogleDevice = errors.New("Google's device flow does not allow the https://mail.google.com/ scope that IMAP and POP3 need; " +
	"sign in with the browser flow instead (--browser, the default for google)")

// LoginOptions tune Login. The zero value signs in with the provider's
// flow and prints nothing.
type LoginOptions struct {
	Flow Flow
	Out  io.Writer // the instructions for the user: the URL to open, the code to enter
	// Port is the browser flow's loopback port on 127.0.0.1; 0 = any free
	// one. A fixed port suits "ssh -L PORT:127.0.0.1:PORT" from the
	// machine with the browser.
	Port int
	// OpenURL, if set, is called with the authorization URL of the browser
	// flow once the redirect listener is up (tests play the browser here).
	OpenURL func(url string)
}

// Login signs the account in and stores its tokens, replacing any it had.
// It waits for the user until the sign-in completes, fails, or ctx ends.
func (s *Source) Login(ctx context.Context, opts LoginOptions) error {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	flow := opts.Flow
	if flow == FlowDefault {
		flow = s.DefaultFlow()
	}
	var tok *oauth2.Token
	var err error
	switch flow {
	case FlowDevice:
		tok, err = s.deviceLogin(ctx, opts)
	case FlowBrowser:
		tok, err = s.browserLogin(ctx, opts)
	default:
		return fmt.Errorf("unknown login flow %q", flow)
	}
	if err != nil {
		return err
	}
	return s.save(ctx, tok, opts.Out)
}

// DefaultFlow is the flow Login uses when none is asked for.
func (s *Source) DefaultFlow() Flow {
	if s.cfg.Provider == Google || s.cfg.DeviceAuthURL == "" {
		return FlowBrowser
	}
	return FlowDevice
}

// deviceLogin runs the device authorization grant (RFC 8628): it shows the
// verification URL and the user code, then polls the token endpoint until
// the user has approved or refused, or the code expires.
func (s *Source) deviceLogin(ctx context.Context, opts LoginOptions) (*oauth2.Token, error) {
	switch {
	case s.cfg.wantsGoogleMail():
		return nil, ErrGoogleDevice
	case s.cfg.DeviceAuthURL == "":
		return nil, errors.New("the provider has no device authorization endpoint (device_authorization_url); use the browser flow")
	}
	oc := s.cfg.oauth2Config("")
	rctx, cancel := s.requestContext(ctx)
	da, err := oc.DeviceAuth(rctx)
	cancel()
	if err != nil {
		return nil, s.describe(rctx, "device authorization", err, s.cfg.ClientSecret)
	}
	printDevice(opts.Out, s.cfg.Account, da)
	pctx := context.WithValue(ctx, oauth2.HTTPClient, s.cfg.HTTPClient)
	tok, err := oc.DeviceAccessToken(pctx, da)
	if err != nil {
		return nil, s.deviceError(pctx, da, err)
	}
	return tok, nil
}

func printDevice(w io.Writer, account string, da *oauth2.DeviceAuthResponse) {
	fmt.Fprintf(w, "To sign in account %q, open\n\n    %s\n\nand enter the code\n\n    %s\n\n", account, da.VerificationURI, da.UserCode)
	if da.VerificationURIComplete != "" {
		fmt.Fprintf(w, "(or open %s, which holds the code)\n", da.VerificationURIComplete)
	}
	if !da.Expiry.IsZero() {
		fmt.Fprintf(w, "Waiting for you to sign in (the code expires at %s)...\n", da.Expiry.Local().Format(time.Kitchen))
	} else {
		fmt.Fprintln(w, "Waiting for you to sign in...")
	}
}

// deviceError explains why polling stopped.
func (s *Source) deviceError(ctx context.Context, da *oauth2.DeviceAuthResponse, err error) error {
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &re) && re.ErrorCode == "access_denied":
		return errors.New("sign-in refused (access_denied)")
	case errors.As(err, &re) && re.ErrorCode == "expired_token",
		errors.Is(err, context.DeadlineExceeded) && !da.Expiry.IsZero() && !time.Now().Before(da.Expiry):
		return errors.New("the code expired before the sign-in was completed; run the login again")
	}
	return s.describe(ctx, "device sign-in", err, s.cfg.ClientSecret, da.DeviceCode)
}

// save stores the tokens of a completed login under the token lock.
func (s *Source) save(ctx context.Context, tok *oauth2.Token, out io.Writer) error {
	now := s.cfg.Now()
	rec := &record{
		Account: s.cfg.Account, Provider: s.cfg.Provider, ClientID: s.cfg.ClientID, TokenURL: s.cfg.TokenURL,
		Scopes: s.cfg.Scopes, AccessToken: tok.AccessToken, TokenType: tok.TokenType, Issued: now, Expiry: tok.Expiry,
		RefreshToken: tok.RefreshToken, LoggedIn: now, RefreshFrom: now,
	}
	if sc := grantedScopes(tok); len(sc) > 0 {
		rec.Scopes = sc
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := s.store.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.store.write(rec); err != nil {
		return err
	}
	s.cached, s.warned = rec, false
	fmt.Fprintf(out, "Signed in. Tokens for account %q stored in %s.\n", s.cfg.Account, s.store.path())
	if rec.RefreshToken == "" {
		fmt.Fprintln(out, "Warning: the provider issued no refresh token, so the sign-in lasts only until the access token expires"+
			" (Microsoft issues one only with the offline_access scope).")
	}
	return nil
}
