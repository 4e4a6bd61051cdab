package agent

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mailkeep/mailkeep/serve"
)

// TestAgentServes: with a serve section the agent serves the archive, and
// its metrics count sessions and logins; a changed section is applied at
// restart, and says so.
func TestAgentServes(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, "@every 1h", "serve:\n  listen: "+freePort(t)+"\n  password: pw\n", "alice")
	job := &fakeJob{result: okResult}
	r := start(t, load(t, path), job.run)
	addr := r.a.serve.Addr()
	m := r.a.metrics

	bad, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if err := bad.Login("alice", "nope").Wait(); err == nil {
		t.Error("a wrong password was accepted")
	}
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The password is right; alice has no archive yet.
	if err := c.Login("alice", "pw").Wait(); err == nil || !strings.Contains(err.Error(), "no archive yet") {
		t.Errorf("login to an account without an archive: %v", err)
	}
	if got := testutil.ToFloat64(m.sessions); got != 2 {
		t.Errorf("serve_sessions = %v, want 2", got)
	}
	if ok, failed := testutil.ToFloat64(m.logins.WithLabelValues("ok")), testutil.ToFloat64(m.logins.WithLabelValues("failed")); ok != 1 || failed != 1 {
		t.Errorf("serve_logins_total ok %v, failed %v", ok, failed)
	}
	bad.Close()
	c.Close()
	waitFor(t, "the sessions to close", func() bool { return testutil.ToFloat64(m.sessions) == 0 })
	if got := testutil.ToFloat64(m.sessionsTotal); got != 2 {
		t.Errorf("serve_sessions_total = %v", got)
	}

	data, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(data), "password: pw", "password: other", 1)), 0o600)
	r.hup <- syscall.SIGHUP
	waitFor(t, "the reload", func() bool { return logCount(r.log, "configuration reloaded") >= 1 })
	if logCount(r.log, "serve changed: restart the agent to apply it") != 1 {
		t.Errorf("no warning about the changed serve section:\n%s", r.log)
	}
}

func TestAgentServeNotLoopback(t *testing.T) {
	path := writeConfig(t, t.TempDir(), "@every 1h", "serve:\n  listen: 0.0.0.0:1143\n  password: pw\n", "alice")
	_, err := New(load(t, path), slog.New(slog.DiscardHandler), Options{})
	if !errors.Is(err, ErrConfig) || !errors.Is(err, serve.ErrNotLoopback) {
		t.Errorf("New with a serve section on 0.0.0.0 without TLS: %v", err)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
