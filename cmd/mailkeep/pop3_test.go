package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
	"github.com/mailkeep/mailkeep/internal/pop3fake"
	"github.com/mailkeep/mailkeep/transport"
)

// writePOP3Config writes a config with one POP3 account "home" for user
// bob at addr, with extra lines appended to the account, and returns its
// path. The archive is dir/archive.
func writePOP3Config(t *testing.T, dir, addr, password, extra string) string {
	t.Helper()
	pass := filepath.Join(dir, "bob.pass")
	if err := os.WriteFile(pass, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(addr, ":")
	cfg := fmt.Sprintf(`archive: %s/archive
accounts:
  - name: home
    protocol: pop3
    host: %s
    port: %s
    username: bob
    password_file: %s
%s`, dir, host, port, pass, extra)
	path := filepath.Join(dir, fmt.Sprintf("mailkeep-%s.yaml", port))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// popStat counts bob's messages over a new POP3 session.
func popStat(t *testing.T, srv *dovecottest.Server) int {
	t.Helper()
	ctx := t.Context()
	host, port, _ := net.SplitHostPort(srv.POP3Addr)
	p, _ := strconv.Atoi(port)
	ep := transport.Endpoint{Host: host, Port: p, TLS: config.TLSNone, Username: "bob",
		Secret: func(context.Context) (string, error) { return srv.Password("bob"), nil }}
	c, err := transport.DialPOP3(ctx, ep, transport.POP3Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n, _, err := c.Stat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.Quit(ctx)
	return n
}

// archivedPOP3 returns the bodies of the archived messages and how many
// of them the catalog records as deleted from the server.
func archivedPOP3(t *testing.T, root string) (bodies []string, deleted int) {
	t.Helper()
	a, err := archive.OpenWriter(t.Context(), root, "home", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	f, err := a.Folder("INBOX", 0)
	if err != nil {
		t.Fatal(err)
	}
	files, _, _ := f.Scan()
	folders, _ := a.Catalog.Folders(t.Context())
	rows, err := a.Catalog.POP3Messages(t.Context(), folders[0].ID)
	if err != nil || len(rows) != len(files) {
		t.Fatalf("%d rows, %d files, %v", len(rows), len(files), err)
	}
	for _, r := range rows {
		rc, err := f.OpenMessage(r.Message)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		bodies = append(bodies, string(b))
		if r.ServerDeleted != 0 {
			deleted++
		}
	}
	return bodies, deleted
}

// TestPOP3KillBeforeQuit kills a delete-mode backup (SIGKILL) after it
// has retrieved and recorded everything, once when it sends its first
// DELE and once when it sends QUIT, which a proxy holds back. The server
// keeps every message; the next run stores nothing twice and deletes
// everything.
func TestPOP3KillBeforeQuit(t *testing.T) {
	for _, at := range []string{"DELE", "QUIT"} {
		t.Run(at, func(t *testing.T) {
			srv := dovecottest.Start(t, dovecottest.Options{})
			msgs := corpus.Generate(corpus.Options{Seed: 5, Count: 40, Folders: []string{"INBOX"}})
			if err := corpus.Load(t.Context(), srv.Dial(t, "bob"), msgs); err != nil {
				t.Fatal(err)
			}
			held := make(chan struct{}, 1)
			proxy := pop3fake.StartProxy(t, srv.POP3Addr, pop3fake.ProxyOptions{Hold: func(line string) bool {
				if strings.HasPrefix(line, at) {
					held <- struct{}{}
					return true
				}
				return false
			}})
			dir := t.TempDir()
			mode := "    tls: none\n    pop3:\n      mode: delete\n"
			viaProxy := writePOP3Config(t, dir, proxy.Addr, srv.Password("bob"), mode)
			direct := writePOP3Config(t, dir, srv.POP3Addr, srv.Password("bob"), mode)

			killAt(t, held, "backup", "--config", viaProxy)
			if n := popStat(t, srv); n != len(msgs) {
				t.Fatalf("server holds %d messages after the kill, want %d", n, len(msgs))
			}
			if bodies, deleted := archivedPOP3(t, filepath.Join(dir, "archive")); len(bodies) != len(msgs) || deleted != 0 {
				t.Fatalf("after the kill: %d archived, %d recorded deleted; want %d and 0", len(bodies), deleted, len(msgs))
			}

			r := mailkeep(t, nil, "backup", "--config", direct)
			deletedNow := fmt.Sprintf(", %d deleted from the server,", len(msgs))
			if r.code != exitOK || !strings.Contains(r.stdout, "home: ok") || !strings.Contains(r.stdout, " 0 new messages") ||
				!strings.Contains(r.stdout, deletedNow) {
				t.Fatalf("next run: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			if n := popStat(t, srv); n != 0 {
				t.Fatalf("server holds %d messages after the next run", n)
			}
			bodies, deleted := archivedPOP3(t, filepath.Join(dir, "archive"))
			if len(bodies) != len(msgs) || deleted != len(msgs) {
				t.Fatalf("%d archived, %d recorded deleted; want %d of each", len(bodies), deleted, len(msgs))
			}
			wantBodies(t, bodies, msgs)
		})
	}
}

// killAt runs mailkeep with args and kills it with SIGKILL when held
// receives.
func killAt(t *testing.T, held <-chan struct{}, args ...string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-held:
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-exited
	case err := <-exited:
		t.Fatalf("mailkeep exited (%v) before it was killed:\n%s", err, out.String())
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("mailkeep never reached the point to kill it:\n%s", out.String())
	}
}

// wantBodies compares archived bodies with the corpus as POP3 sends it:
// byte for byte, a missing final line end added (see pop3Forms in
// package backup's tests).
func wantBodies(t *testing.T, got []string, msgs []corpus.Message) {
	t.Helper()
	want := map[string]int{}
	for _, m := range msgs {
		b := string(m.Raw)
		if !strings.HasSuffix(b, "\n") {
			b += "\r\n"
		}
		want[b]++
	}
	for _, b := range got {
		if want[b] == 0 {
			t.Errorf("archived message of %d bytes is not in the corpus", len(b))
		}
		want[b]--
	}
}

// TestPOP3CLI backs up over implicit TLS and STLS with a private CA, with
// each way of logging in, and reports a wrong password.
func TestPOP3CLI(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{TLS: true})
	msgs := corpus.Generate(corpus.Options{Seed: 6, Count: 5, Folders: []string{"INBOX"}})
	if err := corpus.Load(t.Context(), srv.Dial(t, "bob"), msgs); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, addr, extra, password string
		code                        int
		want                        string
	}{
		{"implicit", srv.POP3SAddr, "    tls: implicit\n", "", exitOK, fmt.Sprintf("home: ok — 1 folder, %d new messages", len(msgs))},
		{"starttls login", srv.POP3Addr, "    tls: starttls\n    auth: login\n", "", exitOK, "home: ok"},
		{"starttls plain", srv.POP3Addr, "    tls: starttls\n    auth: plain\n", "", exitOK, "home: ok"},
		{"no_uidl hash with UIDL", srv.POP3SAddr, "    pop3: {no_uidl: hash}\n", "", exitOK, "home: ok"},
		// Last: Dovecot delays logins from an address after a failed one.
		{"wrong password", srv.POP3Addr, "    tls: starttls\n", "wrong", exitFailure, "authentication failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pass := tc.password
			if pass == "" {
				pass = srv.Password("bob")
			}
			dir := t.TempDir()
			cfg := writePOP3Config(t, dir, tc.addr, pass, tc.extra+"    ca_file: "+srv.CACert+"\n")
			r := mailkeep(t, nil, "backup", "--config", cfg)
			if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
				t.Fatalf("exit %d, want %d and %q\nstdout: %s\nstderr: %s", r.code, tc.code, tc.want, r.stdout, r.stderr)
			}
			if strings.Contains(r.stdout+r.stderr, "wrong") && tc.password != "" {
				t.Errorf("password in output:\n%s%s", r.stdout, r.stderr)
			}
		})
	}
	if n := popStatTLS(t, srv); n != len(msgs) {
		t.Errorf("keep mode left %d messages, want %d", n, len(msgs))
	}
}

// popStatTLS counts bob's messages over IMAP.
func popStatTLS(t *testing.T, srv *dovecottest.Server) int {
	t.Helper()
	st, err := srv.Dial(t, "bob").Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	return int(*st.NumMessages)
}
