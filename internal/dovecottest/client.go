package dovecottest

import (
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
)

// Dial returns an IMAP client on the plain-TCP listener, logged in as user.
// It is logged out and closed at test cleanup.
func (s *Server) Dial(t testing.TB, user string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(s.IMAPAddr, nil)
	if err != nil {
		t.Fatalf("dovecottest: dial %s: %v", s.IMAPAddr, err)
	}
	t.Cleanup(func() { logout(c) })
	if err := c.Login(user, s.Password(user)).Wait(); err != nil {
		t.Fatalf("dovecottest: login %s: %v\n%s", user, err, s.LogTail(20))
	}
	return c
}

// logout says goodbye politely but never waits long for an answer.
func logout(c *imapclient.Client) {
	done := make(chan struct{})
	go func() {
		c.Logout().Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	c.Close()
}
