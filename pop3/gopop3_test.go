package pop3

// The tests in this file are a regression note: they document why mailkeep
// has its own POP3 client instead of github.com/knadh/go-pop3 v1.0.0, and
// pass as long as that library's defects are there. If one fails after an
// upgrade, the library has changed and the decision recorded in
// doc/design.md ("POP3 retrieval: why not go-pop3") may be revisited.

import (
	"bytes"
	"net"
	"strconv"
	"testing"
	"time"

	gopop3 "github.com/knadh/go-pop3"

	"github.com/mailkeep/mailkeep/internal/dovecottest"
)

func goPOP3Opt(t *testing.T, addr string) gopop3.Opt {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return gopop3.Opt{Host: host, Port: p, DialTimeout: 200 * time.Millisecond}
}

// TestGoPOP3AltersBodies retrieves the same messages from Dovecot with
// go-pop3 and with this package: go-pop3 leaves dot-stuffing in and splits
// a 10,000-byte line with inserted CRLFs; this package returns the bytes
// IMAP returns.
func TestGoPOP3AltersBodies(t *testing.T) {
	t.Parallel()
	s := dovecottest.Start(t, dovecottest.Options{})
	appendMessages(t, s, "bob", [][]byte{specialMessage(), ordinaryMessage(1)})
	stored := fetchAll(t, s, "bob")

	conn, err := gopop3.New(goPOP3Opt(t, s.POP3Addr)).NewConn()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Quit()
	if err := conn.Auth("bob", s.Password("bob")); err != nil {
		t.Fatal(err)
	}
	buf, err := conn.RetrRaw(1)
	if err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	if bytes.Equal(got, stored[0].body) {
		t.Fatal("go-pop3 returned the special message unaltered: its defects may be fixed")
	}
	for _, stuffed := range []string{"\r\n..\r\n", "\r\n...\r\n", "\r\n..leading dot\r\n", "\r\n...two leading dots\r\n"} {
		if !bytes.Contains(got, []byte(stuffed)) {
			t.Errorf("go-pop3 unstuffed %q", stuffed)
		}
	}
	if bytes.Contains(got, []byte(longLine)) {
		t.Error("go-pop3 kept the 10,000-byte line whole")
	}
	if n := longestLine(got); n > 4096 {
		t.Errorf("go-pop3's longest line is %d bytes, want it split at 4096", n)
	}
	ordinary, err := conn.RetrRaw(2)
	if err != nil || !bytes.Equal(ordinary.Bytes(), stored[1].body) {
		t.Errorf("go-pop3 altered an ordinary message too (err %v)", err)
	}

	c := dialDovecot(t, s, "bob")
	var b bytes.Buffer
	if _, err := c.Retr(ctx, 1, &b); err != nil || !bytes.Equal(b.Bytes(), stored[0].body) {
		t.Errorf("Retr of the special message: %v, byte-exact %v", err, bytes.Equal(b.Bytes(), stored[0].body))
	}
}

func longestLine(b []byte) int {
	longest := 0
	for line := range bytes.SplitSeq(b, []byte("\r\n")) {
		longest = max(longest, len(line))
	}
	return longest
}

// TestGoPOP3StatPanicsOnBareOK: a "+OK" answer to STAT without the numbers
// crashes go-pop3 (this package returns a protocol error, see the
// TestScriptedDialogs cases "STAT answer …").
func TestGoPOP3StatPanicsOnBareOK(t *testing.T) {
	t.Parallel()
	s := serveScript(t, []step{{send: []string{"+OK ready\r\n"}}, say("STAT", "+OK\r\n")})
	conn, err := gopop3.New(goPOP3Opt(t, s.addr())).NewConn()
	if err != nil {
		t.Fatal(err)
	}
	panicked := func() (p bool) {
		defer func() { p = recover() != nil }()
		conn.Stat()
		return false
	}()
	if !panicked {
		t.Error("go-pop3's Stat did not panic on a bare +OK")
	}
}

// TestGoPOP3WaitsForeverForGreeting: go-pop3 sets no read deadline, so a
// server that accepts and never greets blocks NewConn long past its
// DialTimeout (this package: TestScriptedDialogs/silent_server).
func TestGoPOP3WaitsForeverForGreeting(t *testing.T) {
	t.Parallel()
	s := serveScript(t, []step{{then: goSilent}})
	opt := goPOP3Opt(t, s.addr())
	done := make(chan error, 1)
	go func() {
		_, err := gopop3.New(opt).NewConn()
		done <- err
	}()
	select {
	case err := <-done:
		t.Errorf("NewConn returned (%v) although the server never greeted", err)
	case <-time.After(time.Second):
		// Still blocked five times past DialTimeout; the script server's
		// cleanup closes the connection and ends it.
	}
}
