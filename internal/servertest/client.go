package servertest

import (
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
)

// Dial returns an IMAP client of addr logged in as user with password. It
// is logged out and closed at test cleanup; on failure the test fails with
// diag, which may describe the server's logs.
func Dial(t testing.TB, addr, user, password string, diag func() string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { Logout(c) })
	if err := c.Login(user, password).Wait(); err != nil {
		t.Fatalf("login %s at %s: %v\n%s", user, addr, err, diag())
	}
	return c
}

// Logout says goodbye politely but never waits long for an answer.
func Logout(c *imapclient.Client) {
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
