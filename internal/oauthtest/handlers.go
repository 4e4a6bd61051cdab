package oauthtest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const deviceGrant = "urn:ietf:params:oauth:grant-type:device_code"

// deviceAuthorization is RFC 8628 section 3.1/3.2.
// Like Google's, it asks only for the client ID: the secret, if any, is
// checked when the device code is redeemed.
func (s *Server) deviceAuthorization(w http.ResponseWriter, r *http.Request) {
	if r.PostFormValue("client_id") != s.opts.ClientID {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts["device"]++
	d := &device{grant: grant{scope: r.PostFormValue("scope")}, expires: time.Now().Add(10 * time.Minute)}
	code := s.newSecretLocked("dc-")
	d.userCode = strings.ToUpper(s.newSecretLocked("")[:8])
	s.devices[code] = d
	writeJSON(w, http.StatusOK, map[string]any{
		"device_code": code, "user_code": d.userCode,
		"verification_uri":          s.VerificationURL(),
		"verification_uri_complete": s.VerificationURL() + "?user_code=" + d.userCode,
		"expires_in":                600, "interval": s.opts.DeviceInterval,
	})
}

// token is the token endpoint, RFC 6749 section 4.1.3, 6 and RFC 8628
// section 3.4.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if !s.clientOK(w, r) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch gt := r.PostFormValue("grant_type"); gt {
	case "refresh_token":
		s.refreshGrant(w, r)
	case "authorization_code":
		s.codeGrant(w, r)
	case deviceGrant:
		s.deviceCodeGrant(w, r)
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type "+gt)
	}
}

func (s *Server) refreshGrant(w http.ResponseWriter, r *http.Request) {
	s.counts["refresh"]++
	rt := r.PostFormValue("refresh_token")
	g, ok := s.refresh[rt]
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Token has been expired or revoked.")
		return
	}
	if !s.opts.RotateRefresh {
		access, _ := s.issueLocked(grant{user: g.user, scope: g.scope, refresh: rt}, false)
		s.tokenResponse(w, access, "", g.scope)
		return
	}
	delete(s.refresh, rt)
	access, refresh := s.issueLocked(grant{user: g.user, scope: g.scope}, true)
	s.tokenResponse(w, access, refresh, g.scope)
}

func (s *Server) codeGrant(w http.ResponseWriter, r *http.Request) {
	s.counts["authorization_code"]++
	c, ok := s.codes[r.PostFormValue("code")]
	delete(s.codes, r.PostFormValue("code")) // single use
	switch {
	case !ok:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown or used code")
	case r.PostFormValue("redirect_uri") != c.redirectURI:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request")
	case s256(r.PostFormValue("code_verifier")) != c.challenge:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
	default:
		access, refresh := s.issueLocked(c.grant, true)
		s.tokenResponse(w, access, refresh, c.scope)
	}
}

func (s *Server) deviceCodeGrant(w http.ResponseWriter, r *http.Request) {
	s.counts["device_code"]++
	code := r.PostFormValue("device_code")
	d, ok := s.devices[code]
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown device code")
		return
	}
	first := !d.polledYet
	d.polledYet, d.lastPoll = true, time.Now()
	switch {
	case time.Now().After(d.expires):
		delete(s.devices, code)
		oauthError(w, http.StatusBadRequest, "expired_token", "")
	case d.denied:
		delete(s.devices, code)
		oauthError(w, http.StatusBadRequest, "access_denied", "")
	case s.slowDowns > 0:
		s.slowDowns--
		s.counts["slow_down"]++
		oauthError(w, http.StatusBadRequest, "slow_down", "")
	case !d.approved && !(s.opts.AutoApprove && !first):
		s.counts["authorization_pending"]++
		oauthError(w, http.StatusBadRequest, "authorization_pending", "")
	default:
		delete(s.devices, code)
		if d.user == "" {
			d.user = s.opts.User
		}
		access, refresh := s.issueLocked(d.grant, true)
		s.tokenResponse(w, access, refresh, d.scope)
	}
}

func (s *Server) tokenResponse(w http.ResponseWriter, access, refresh, scope string) {
	resp := map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": int(s.opts.AccessTTL.Seconds())}
	if refresh != "" {
		resp["refresh_token"] = refresh
	}
	if scope != "" {
		resp["scope"] = scope
	}
	writeJSON(w, http.StatusOK, resp)
}

// revoke is RFC 7009: it answers 200 whether or not the token was known.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	if !s.clientOK(w, r) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts["revoke"]++
	tok := r.PostFormValue("token")
	if _, ok := s.refresh[tok]; ok {
		delete(s.refresh, tok)
		for a, g := range s.access {
			if g.refresh == tok {
				delete(s.access, a)
			}
		}
	}
	delete(s.access, tok)
	w.WriteHeader(http.StatusOK)
}

// authorize is the authorization endpoint (RFC 6749 section 4.1.1) with
// PKCE: it approves at once, as the configured user, and sends the browser
// back to the loopback redirect URI.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	switch {
	case q.Get("client_id") != s.opts.ClientID:
		http.Error(w, "unknown client", http.StatusBadRequest)
		return
	case err != nil || redirect.Scheme != "http" || (redirect.Hostname() != "127.0.0.1" && redirect.Hostname() != "localhost"):
		http.Error(w, "redirect_uri must be a loopback http URI", http.StatusBadRequest)
		return
	}
	back := redirect.Query()
	back.Set("state", q.Get("state"))
	switch {
	case q.Get("response_type") != "code":
		back.Set("error", "unsupported_response_type")
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		back.Set("error", "invalid_request")
		back.Set("error_description", "PKCE with S256 is required")
	default:
		s.mu.Lock()
		s.counts["authorize"]++
		code := s.newSecretLocked("ac-")
		s.codes[code] = &authCode{grant: grant{user: s.opts.User, scope: q.Get("scope")},
			redirectURI: q.Get("redirect_uri"), challenge: q.Get("code_challenge")}
		s.mu.Unlock()
		back.Set("code", code)
	}
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// verify is the verification URI: a GET with user_code approves the
// device authorization as the configured user, as a user's browser does.
func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	if !s.Approve(r.URL.Query().Get("user_code"), s.opts.User) {
		http.Error(w, "no such code", http.StatusNotFound)
		return
	}
	w.Write([]byte("approved\n"))
}

// introspect is RFC 7662 as Dovecot's oauth2 passdb uses it: a POST form
// with token=…, answered {"active":true,"username":…} for a live access
// token.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts["introspect"]++
	g, ok := s.access[r.PostFormValue("token")]
	if !ok {
		writeJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"active": true, "username": g.user, "scope": g.scope})
}

// clientOK checks the client's credentials, in the body or in HTTP Basic
// authentication (RFC 6749 section 2.3.1).
func (s *Server) clientOK(w http.ResponseWriter, r *http.Request) bool {
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	} else {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	}
	if id != s.opts.ClientID || (s.opts.ClientSecret != "" && secret != s.opts.ClientSecret) {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret")
		return false
	}
	return true
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	body := map[string]any{"error": code}
	if desc != "" {
		body["error_description"] = desc
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
