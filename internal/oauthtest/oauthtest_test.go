package oauthtest_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mailkeep/mailkeep/internal/oauthtest"
)

func post(t *testing.T, u string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

// authorize runs the authorization request by hand and returns the code
// the redirect carries.
func authorize(t *testing.T, s *oauthtest.Server, challenge string) string {
	t.Helper()
	q := url.Values{"client_id": {s.ClientID()}, "response_type": {"code"}, "state": {"st"},
		"redirect_uri": {"http://127.0.0.1:1/"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(s.AuthURL() + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc == nil || loc.Query().Get("state") != "st" {
		t.Fatalf("redirect %q", resp.Header.Get("Location"))
	}
	return loc.Query().Get("code")
}

// challenge is BASE64URL(SHA256(verifier)), computed with openssl.
const (
	verifier  = "dBjftJeZ4CK-P1ZVhcj0jW4hJ9DY8EdtSq4rm3pgpFc"
	challenge = "7UOiCWp_t9gE3tq19S3aDWxcmIDF8Q7fbeoC-FMFHRM"
)

func TestAuthorizationCodeWithPKCE(t *testing.T) {
	s := oauthtest.Start(t, oauthtest.Options{})
	form := func(code, v string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {v},
			"redirect_uri": {"http://127.0.0.1:1/"}, "client_id": {s.ClientID()}}
	}
	code := authorize(t, s, challenge)
	if st, body := post(t, s.TokenURL(), form(code, "wrong-verifier")); st != 400 || body["error"] != "invalid_grant" {
		t.Errorf("wrong verifier: %d %v", st, body)
	}
	code = authorize(t, s, challenge)
	st, body := post(t, s.TokenURL(), form(code, verifier))
	if st != 200 || body["refresh_token"] == nil || body["token_type"] != "Bearer" {
		t.Fatalf("exchange: %d %v", st, body)
	}
	if st, body := post(t, s.TokenURL(), form(code, verifier)); st != 400 || body["error"] != "invalid_grant" {
		t.Errorf("second use of a code: %d %v", st, body)
	}
	st, intro := post(t, s.IntrospectionURL(), url.Values{"token": {body["access_token"].(string)}})
	if st != 200 || intro["active"] != true || intro["username"] != "alice" {
		t.Errorf("introspection: %d %v", st, intro)
	}
	s.ExpireAccessTokens()
	if _, intro := post(t, s.IntrospectionURL(), url.Values{"token": {body["access_token"].(string)}}); intro["active"] != false {
		t.Errorf("introspection of an expired token: %v", intro)
	}
}

func TestDeviceGrant(t *testing.T) {
	s := oauthtest.Start(t, oauthtest.Options{ClientSecret: "sec"})
	_, da := post(t, s.DeviceAuthURL(), url.Values{"client_id": {s.ClientID()}, "scope": {"mail"}})
	poll := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"},
		"device_code": {da["device_code"].(string)}, "client_id": {s.ClientID()}, "client_secret": {"sec"}}
	if _, body := post(t, s.TokenURL(), poll); body["error"] != "authorization_pending" {
		t.Errorf("before approval: %v", body)
	}
	s.SlowDown(1)
	if _, body := post(t, s.TokenURL(), poll); body["error"] != "slow_down" {
		t.Errorf("slow down: %v", body)
	}
	bad := url.Values{}
	for k, v := range poll {
		bad[k] = v
	}
	bad.Set("client_secret", "wrong")
	if st, body := post(t, s.TokenURL(), bad); st != 401 || body["error"] != "invalid_client" {
		t.Errorf("wrong secret: %d %v", st, body)
	}
	if !s.Approve(da["user_code"].(string), "bob") {
		t.Fatal("no pending authorization")
	}
	st, body := post(t, s.TokenURL(), poll)
	if st != 200 || body["scope"] != "mail" {
		t.Fatalf("after approval: %d %v", st, body)
	}
	if _, intro := post(t, s.IntrospectionURL(), url.Values{"token": {body["access_token"].(string)}}); intro["username"] != "bob" {
		t.Errorf("introspection: %v", intro)
	}
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)},
		"client_id": {s.ClientID()}, "client_secret": {"sec"}}
	if st, _ := post(t, s.TokenURL(), refresh); st != 200 {
		t.Errorf("refresh: %d", st)
	}
	post(t, s.RevocationURL(), url.Values{"token": {body["refresh_token"].(string)}, "client_id": {s.ClientID()}, "client_secret": {"sec"}})
	if _, body := post(t, s.TokenURL(), refresh); body["error"] != "invalid_grant" {
		t.Errorf("refresh after revocation: %v", body)
	}
}

func TestErrorPage(t *testing.T) {
	s := oauthtest.Start(t, oauthtest.Options{})
	s.SetErrorPage(http.StatusBadGateway)
	resp, err := http.PostForm(s.TokenURL(), url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 502 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("error page: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
