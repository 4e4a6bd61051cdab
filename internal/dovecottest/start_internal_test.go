package dovecottest

import (
	"net"
	"strings"
	"testing"
)

// TestStartRetriesWhenPortTaken hands Start a port that another listener
// holds on its first attempt.
func TestStartRetriesWhenPortTaken(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port
	calls := 0
	pickPorts = func(n int) ([]int, error) {
		calls++
		ports, err := freePorts(n)
		if calls == 1 {
			ports[1] = busyPort // POP3: the IMAP port would accept, too late
		}
		return ports, err
	}
	t.Cleanup(func() { pickPorts = freePorts })
	s := Start(t, Options{})
	if calls != 2 || s.POP3Addr == busy.Addr().String() {
		t.Errorf("picked ports %d times, POP3 on %s; want a second try on a free port", calls, s.POP3Addr)
	}
	s.Dial(t, "alice")
}

func TestMissingDovecotIsExplained(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	sbinDovecot = "/nonexistent/dovecot"
	t.Cleanup(func() { sbinDovecot = "/usr/sbin/dovecot" })
	_, err := dovecotBinary()
	if err == nil || !strings.Contains(err.Error(), "dovecot-imapd dovecot-pop3d") {
		t.Errorf("dovecotBinary() error = %v, want advice to install dovecot-imapd and dovecot-pop3d", err)
	}
}
