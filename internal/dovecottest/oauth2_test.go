package dovecottest_test

import (
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/mailkeep/mailkeep/internal/dovecottest"
	"github.com/mailkeep/mailkeep/internal/oauthtest"
)

// xoauth2 is the XOAUTH2 SASL mechanism, which go-sasl lacks.
type xoauth2 struct{ user, token string }

func (x xoauth2) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}
func (x xoauth2) Next([]byte) ([]byte, error) { return []byte{}, nil }

func authenticate(t *testing.T, s *dovecottest.Server, c sasl.Client) error {
	t.Helper()
	ic, err := imapclient.DialInsecure(s.IMAPAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ic.Close()
	return ic.Authenticate(c)
}

// With an introspection URL, Dovecot accepts the tokens the provider
// says are live, for the user they belong to, with no delay after a
// refusal; passwords still work.
func TestOAuth2Passdb(t *testing.T) {
	t.Parallel()
	p := oauthtest.Start(t, oauthtest.Options{})
	s := dovecottest.Start(t, dovecottest.Options{OAuth2IntrospectionURL: p.IntrospectionURL()})
	token, _ := p.Grant("alice", "mail")
	if err := authenticate(t, s, xoauth2{"alice", token}); err != nil {
		t.Errorf("XOAUTH2 with a live token: %v\n%s", err, s.LogTail(20))
	}
	bearer := sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: "alice", Token: token})
	if err := authenticate(t, s, bearer); err != nil {
		t.Errorf("OAUTHBEARER with a live token: %v\n%s", err, s.LogTail(20))
	}
	if err := authenticate(t, s, xoauth2{"bob", token}); err == nil {
		t.Error("alice's token logged bob in")
	}
	p.ExpireAccessTokens()
	for i := range 3 {
		start := time.Now()
		if err := authenticate(t, s, xoauth2{"alice", token}); err == nil {
			t.Error("an expired token was accepted")
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("refusal %d took %v: the login penalty is on", i+1, d)
		}
	}
	s.Dial(t, "alice") // password login
}
