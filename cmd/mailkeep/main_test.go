package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mailkeep-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "mailkeep")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build mailkeep: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func mailkeep(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return result{cmd.ProcessState.ExitCode(), out.String(), errb.String()}
}

// writeConfig writes a config for user alice of srv and returns its path.
func writeConfig(t *testing.T, srv *dovecottest.Server, password string, extra string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	pass := filepath.Join(dir, "alice.pass")
	if err := os.WriteFile(pass, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(srv.IMAPAddr, ":")
	cfg := fmt.Sprintf(`archive: %s/archive
accounts:
  - name: alice
    protocol: imap
    host: %s
    port: %s
    tls: none
    username: alice
    password_file: %s
%s`, dir, host, port, pass, extra)
	path := filepath.Join(dir, "mailkeep.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, filepath.Join(dir, "archive")
}

func TestCLIBackup(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	msgs := corpus.Generate(corpus.Options{Seed: 3, Count: 40})
	if err := corpus.Load(t.Context(), srv.Dial(t, "alice"), msgs); err != nil {
		t.Fatal(err)
	}
	cfg, root := writeConfig(t, srv, srv.Password("alice"), "    folders:\n      exclude: [\"Sent\"]\n")

	r := mailkeep(t, nil, "backup", "--config", cfg)
	if r.code != exitOK || !strings.Contains(r.stdout, "alice: ok") {
		t.Fatalf("backup: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	for _, p := range []string{"FORMAT", "catalog.db", "mail/INBOX/.mk/cur", "mail/Entw&APw-rfe/.mk/cur", "mail/Archive/2024/.mk/cur"} {
		if _, err := os.Stat(filepath.Join(root, "alice", p)); err != nil {
			t.Errorf("archive lacks %s: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "alice", "mail", "Sent")); err == nil {
		t.Error("excluded folder Sent was backed up")
	}
	// MAILKEEP_CONFIG names the config when --config is absent; one account by name.
	r = mailkeep(t, []string{"MAILKEEP_CONFIG=" + cfg}, "backup", "alice")
	if r.code != exitOK || !strings.Contains(r.stdout, "0 new messages") {
		t.Fatalf("second backup: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}

func TestCLIErrors(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	good, root := writeConfig(t, srv, srv.Password("alice"), "")
	bad, _ := writeConfig(t, srv, "wrong-password", "")
	unknownKey, _ := writeConfig(t, srv, "x", "    colour: blue\n")
	closed := filepath.Join(t.TempDir(), "closed.yaml")
	data, _ := os.ReadFile(good)
	os.WriteFile(closed, bytes.Replace(data, []byte("port: "+portOf(srv.IMAPAddr)), []byte("port: 1"), 1), 0o600)

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"wrong password", []string{"backup", "--config", bad}, exitFailure, "authentication failed"},
		{"unknown key", []string{"backup", "--config", unknownKey}, exitUsage, "colour"},
		{"unknown account", []string{"backup", "--config", good, "nobody"}, exitUsage, "nobody"},
		{"missing config", []string{"backup", "--config", "/nonexistent/mailkeep.yaml"}, exitUsage, "/nonexistent/mailkeep.yaml"},
		{"unreachable", []string{"backup", "--config", closed}, exitFailure, "connect"},
		{"unknown flag", []string{"backup", "--colour"}, exitUsage, "unknown flag"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mailkeep(t, nil, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr+r.stdout, tc.want) {
				t.Fatalf("exit %d, want %d and %q\nstdout: %s\nstderr: %s", r.code, tc.code, tc.want, r.stdout, r.stderr)
			}
			if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr+r.stdout, "wrong-password") {
				t.Fatalf("stack trace or password in output:\n%s", r.stderr)
			}
		})
	}
	t.Run("busy", func(t *testing.T) {
		a, err := archive.OpenWriter(context.Background(), root, "alice", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		r := mailkeep(t, nil, "backup", "--config", good)
		if r.code != exitBusy || !strings.Contains(r.stderr+r.stdout, "busy") {
			t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, exitBusy, r.stdout, r.stderr)
		}
	})
}

func portOf(addr string) string { _, p, _ := strings.Cut(addr, ":"); return p }

func TestDemo(t *testing.T) {
	dir := t.TempDir()
	r := mailkeep(t, nil, "demo", "--dir", dir, "--messages", "120")
	if r.code != exitOK {
		t.Fatalf("demo: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"demo: ok", "0 new messages", "25 new messages", "demo: clean",
		"155 messages appended", "155 already present", "mail_location", "a fresh archive in " + dir} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
	// Run again, it starts from a fresh archive: its first backup stores
	// every message again, and nothing is gone.
	r = mailkeep(t, nil, "demo", "--dir", dir, "--messages", "120")
	if r.code != exitOK || !strings.Contains(r.stdout, "first backup") || strings.Contains(r.stdout, " 0 new messages (0 B), 0 flag updates, 130 gone") ||
		!regexp.MustCompile(`demo: ok — \d+ folders, 1[0-9]{2} new messages`).MatchString(r.stdout) {
		t.Fatalf("second demo: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A directory that holds something else is refused.
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "mailkeep.yaml"), []byte("archive: /x\n"), 0o600)
	if r := mailkeep(t, nil, "demo", "--dir", other); r.code == exitOK || !strings.Contains(r.stderr, "not written by the demo") {
		t.Fatalf("demo into a foreign directory: exit %d\n%s", r.code, r.stderr)
	}
}
