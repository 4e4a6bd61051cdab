package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
	"github.com/mailkeep/mailkeep/internal/logtest"
)

const servePassword = "serve-pass-7f3a"

// serveSection is a serve section listening on addr, its password in a
// file beside the config.
func serveSection(t *testing.T, addr string) string {
	t.Helper()
	pass := filepath.Join(t.TempDir(), "serve.pass")
	if err := os.WriteFile(pass, []byte(servePassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("serve:\n  listen: %s\n  password_file: %s\n", addr, pass)
}

// TestServeCommand runs "mailkeep serve" on an archive and browses it;
// then its errors: exit 2 and a reason.
func TestServeCommand(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	msgs := corpus.Generate(corpus.Options{Seed: 21, Count: 30})
	if err := corpus.Load(t.Context(), srv.Dial(t, "alice"), msgs); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cfg, _ := writeConfig(t, srv, srv.Password("alice"), serveSection(t, addr))
	if r := mailkeep(t, nil, "backup", "--config", cfg); r.code != exitOK {
		t.Fatalf("backup: %d %s", r.code, r.stderr)
	}
	p := startServe(t, cfg, "--as-of", "1", "alice")
	waitFor(t, 15*time.Second, "serve to listen", func() bool { return strings.Contains(p.stderr.String(), "serving 1 accounts") })
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice", servePassword).Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil || int(sel.NumMessages) != countFolder(msgs, "INBOX") {
		t.Fatalf("INBOX: %+v, %v; want %d messages", sel, err, countFolder(msgs, "INBOX"))
	}
	fetched, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{
		BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil || len(fetched) != int(sel.NumMessages) {
		t.Fatalf("fetch: %d, %v", len(fetched), err)
	}
	if code, _ := p.stop(t, 10*time.Second); code != exitOK {
		t.Errorf("serve exited %d after SIGTERM", code)
	}

	noServe, _ := writeConfig(t, srv, srv.Password("alice"), "")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no serve section", []string{"serve", "--config", noServe}, "has no serve section"},
		{"not loopback", []string{"serve", "--config", cfg, "--listen", "0.0.0.0:0"}, "not a loopback address"},
		{"before the first run", []string{"serve", "--config", cfg, "--as-of", "2001-01-01"}, "no such backup run"},
		{"bad as-of", []string{"serve", "--config", cfg, "--as-of", "sometime"}, "--as-of"},
		{"unknown account", []string{"serve", "--config", cfg, "nobody"}, "nobody"},
	} {
		r := mailkeep(t, nil, tc.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d, want %d and %q\n%s", tc.name, r.code, exitUsage, tc.want, r.stderr)
		}
	}
}

// startServe starts "mailkeep serve" with args.
func startServe(t *testing.T, cfg string, args ...string) *agentProc {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--config", cfg}, args...)...)
	p := &agentProc{cmd: cmd, stderr: &logtest.Buffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stderr, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			cmd.Process.Signal(syscall.SIGKILL)
			<-p.exited
		}
		if t.Failed() {
			t.Logf("serve log:\n%s", p.stderr)
		}
	})
	return p
}

func countFolder(msgs []corpus.Message, folder string) int {
	n := 0
	for _, m := range msgs {
		if m.Folder == folder {
			n++
		}
	}
	return n
}

// TestAgentServes: "mailkeep run" with a serve section serves the archive
// while it backs up, and counts sessions and logins in its metrics.
func TestAgentServes(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	msgs := loadCorpus(t, srv, "alice", corpus.Options{Seed: 22, Count: 40})
	metrics, imapAddr := freeAddr(t), freeAddr(t)
	dir := t.TempDir()
	cfg, _ := agentConfig(t, dir, srv, "@every 1s",
		fmt.Sprintf("  metrics: %s\n  stop_timeout: 10s\n%s", metrics, serveSection(t, imapAddr)), "alice")
	p := startAgent(t, cfg, nil)
	waitFor(t, 30*time.Second, "an ok run", func() bool { return runs(t, metrics, "alice", "ok") >= 1 })

	bad, err := imapclient.DialInsecure(imapAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if err := bad.Login("alice", "wrong").Wait(); err == nil {
		t.Error("a wrong password was accepted")
	}
	c, err := imapclient.DialInsecure(imapAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice", servePassword).Wait(); err != nil {
		t.Fatal(err)
	}
	// Fetch everything a few times while backups run every second.
	before := runs(t, metrics, "alice", "ok")
	for runs(t, metrics, "alice", "ok") < before+3 {
		sel, err := c.Select("INBOX", nil).Wait()
		if err != nil || int(sel.NumMessages) != countFolder(msgs, "INBOX") {
			t.Fatalf("INBOX: %+v, %v", sel, err)
		}
		if _, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{
			BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect(); err != nil {
			t.Fatal(err)
		}
	}
	m := scrape(t, metrics)
	if m[`mailkeep_serve_sessions`] != 2 || m[`mailkeep_serve_sessions_total`] != 2 ||
		m[`mailkeep_serve_logins_total{result="ok"}`] != 1 || m[`mailkeep_serve_logins_total{result="failed"}`] != 1 {
		t.Errorf("serve metrics: sessions %v, total %v, logins ok %v, failed %v", m[`mailkeep_serve_sessions`],
			m[`mailkeep_serve_sessions_total`], m[`mailkeep_serve_logins_total{result="ok"}`],
			m[`mailkeep_serve_logins_total{result="failed"}`])
	}
	c.Logout().Wait()
	bad.Close()
	waitFor(t, 10*time.Second, "sessions to close", func() bool {
		m, _ := tryScrape(metrics)
		return m[`mailkeep_serve_sessions`] == 0
	})
	if code, _ := p.stop(t, 20*time.Second); code != exitOK {
		t.Errorf("the agent exited %d", code)
	}
}
