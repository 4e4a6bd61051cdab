package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
)

// restoreUsers are the accounts of the restore tests' server: alice is
// backed up, the others are restore targets.
var restoreUsers = []string{"alice", "bob", "carol", "dave"}

// writeRestoreConfig writes a config with an IMAP account per user of srv
// (named after the user; dave's password is wrong) and a POP3 account
// "pop", and returns its path and the archive directory.
func writeRestoreConfig(t *testing.T, srv *dovecottest.Server) (string, string) {
	t.Helper()
	dir := t.TempDir()
	host, port, _ := strings.Cut(srv.IMAPAddr, ":")
	var b strings.Builder
	fmt.Fprintf(&b, "archive: %s/archive\naccounts:\n", dir)
	for _, u := range restoreUsers {
		pw := srv.Password(u)
		if u == "dave" {
			pw = "wrong-password"
		}
		pass := filepath.Join(dir, u+".pass")
		if err := os.WriteFile(pass, []byte(pw+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "  - name: %s\n    protocol: imap\n    host: %s\n    port: %s\n    tls: none\n"+
			"    username: %s\n    password_file: %s\n", u, host, port, u, pass)
	}
	_, pport, _ := strings.Cut(srv.POP3Addr, ":")
	fmt.Fprintf(&b, "  - name: pop\n    protocol: pop3\n    host: %s\n    port: %s\n    tls: none\n"+
		"    username: bob\n    password_file: %s\n", host, pport, filepath.Join(dir, "bob.pass"))
	path := filepath.Join(dir, "mailkeep.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, filepath.Join(dir, "archive")
}

// restoreSetup loads a corpus into alice and backs it up with the CLI.
func restoreSetup(t *testing.T, opts corpus.Options) (srv *dovecottest.Server, cfg, root string, want map[string][]string) {
	t.Helper()
	srv = dovecottest.Start(t, dovecottest.Options{Users: restoreUsers})
	c := srv.Dial(t, "alice")
	if err := corpus.Load(t.Context(), c, corpus.Generate(opts)); err != nil {
		t.Fatal(err)
	}
	cfg, root = writeRestoreConfig(t, srv)
	if r := mailkeep(t, nil, "backup", "--config", cfg, "alice"); r.code != exitOK {
		t.Fatalf("backup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	return srv, cfg, root, accountLines(t, c)
}

// accountLines describes every message of an account, per folder: content
// hash, size, flags and INTERNALDATE, sorted.
func accountLines(t *testing.T, c *imapclient.Client) map[string][]string {
	t.Helper()
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	opts := &imap.FetchOptions{Flags: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}
	for _, l := range list {
		if slices.Contains(l.Attrs, imap.MailboxAttrNoSelect) || slices.Contains(l.Attrs, imap.MailboxAttrNonExistent) {
			continue
		}
		sel, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			t.Fatal(err)
		}
		out[l.Mailbox] = []string{}
		if sel.NumMessages == 0 {
			continue
		}
		msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, opts).Collect()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			var raw []byte
			for _, b := range m.BodySection {
				raw = b.Bytes
			}
			flags := slices.DeleteFunc(slices.Clone(m.Flags), func(f imap.Flag) bool { return f == `\Recent` })
			slices.Sort(flags)
			out[l.Mailbox] = append(out[l.Mailbox], fmt.Sprintf("%x %v %s", sha256.Sum256(raw), flags,
				m.InternalDate.UTC().Format(time.RFC3339)))
		}
		slices.Sort(out[l.Mailbox])
	}
	return out
}

func sameAccount(t *testing.T, what string, got, want map[string][]string) {
	t.Helper()
	for name, w := range want {
		if g := got[name]; !slices.Equal(g, w) {
			t.Errorf("%s: folder %q holds %d messages, want %d (same content, flags and dates)", what, name, len(g), len(w))
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d folders, want %d", what, len(got), len(want))
	}
}

func TestRestoreCLI(t *testing.T) {
	srv, cfg, _, want := restoreSetup(t, corpus.Options{Seed: 31, Count: 60})
	n := 0
	for _, lines := range want {
		n += len(lines)
	}
	run := func(args ...string) result {
		return mailkeep(t, nil, append([]string{"restore", "--config", cfg}, args...)...)
	}

	r := run("--account", "alice", "--to-account", "carol", "--dry-run")
	if r.code != exitOK || !strings.Contains(r.stdout, fmt.Sprintf("alice → carol: dry run, ok — latest state, %d folders (%d to create), %d messages to append",
		len(want), len(want)-1, n)) {
		t.Fatalf("dry run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := accountLines(t, srv.Dial(t, "carol")); len(got) != 1 || len(got["INBOX"]) != 0 {
		t.Fatalf("the dry run changed the target: %v", got)
	}

	r = run("--account", "alice", "--to-account", "carol")
	if r.code != exitOK || !strings.Contains(r.stdout, fmt.Sprintf("alice → carol: ok — latest state, %d folders (%d created), %d messages appended",
		len(want), len(want)-1, n)) {
		t.Fatalf("restore: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	sameAccount(t, "restored", accountLines(t, srv.Dial(t, "carol")), want)

	r = run("--account", "alice", "--to-account", "carol", "--no-progress")
	if r.code != exitOK || !strings.Contains(r.stdout, fmt.Sprintf(" 0 messages appended (0 B), %d already present, 0 failed", n)) {
		t.Fatalf("second restore: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = run("--account", "alice", "--to-account", "bob", "--folder", "Archive/2024", "--into", "Restored/")
	if r.code != exitOK {
		t.Fatalf("restore --folder --into: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	got := accountLines(t, srv.Dial(t, "bob"))
	if !slices.Equal(got["Restored/Archive/2024"], want["Archive/2024"]) || len(got["INBOX"]) != 0 {
		t.Errorf("--folder Archive/2024 --into Restored/ gave %v", got)
	}
}

func TestRestoreCLIErrors(t *testing.T) {
	_, cfg, root, _ := restoreSetup(t, corpus.Options{Seed: 32, Count: 10})
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no --account", []string{}, exitUsage, "restore needs --account or --id"},
		{"unknown account", []string{"--account", "nobody"}, exitUsage, `--account: no account "nobody"`},
		{"unknown target", []string{"--account", "alice", "--to-account", "nobody"}, exitUsage, `--to-account: no account "nobody"`},
		{"POP3 target", []string{"--account", "alice", "--to-account", "pop"}, exitUsage, "restore needs an IMAP account"},
		{"wrong password", []string{"--account", "alice", "--to-account", "dave"}, exitFailure, "authentication failed for dave"},
		{"no archive", []string{"--account", "carol"}, exitFailure, "no archive"},
		{"unknown folder", []string{"--account", "alice", "--to-account", "carol", "--folder", "Nope"}, exitUsage, `no such folder in the archive: "Nope"`},
		{"as of before the first run", []string{"--account", "alice", "--to-account", "carol", "--as-of", "2001-01-01T00:00:00Z"},
			exitUsage, "no such backup run: none started at or before 2001-01-01T00:00:00Z (the first started "},
		{"bad time", []string{"--account", "alice", "--as-of", "yesterday"}, exitUsage, `--as-of "yesterday": want a run id`},
		{"argument", []string{"--account", "alice", "extra"}, exitUsage, "unknown command"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mailkeep(t, nil, append([]string{"restore", "--config", cfg}, tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, want %d and %q\nstdout: %s\nstderr: %s", r.code, tc.code, tc.want, r.stdout, r.stderr)
			}
			if lines := errorLines(r.stderr); len(lines) != 1 || r.stdout != "" {
				t.Errorf("want one line on stderr and nothing on stdout, got:\n%s%s", r.stdout, r.stderr)
			}
			if strings.Contains(r.stderr+r.stdout, "wrong-password") {
				t.Errorf("password in the output")
			}
		})
	}

	t.Run("partial", func(t *testing.T) {
		a, err := archive.OpenWriter(context.Background(), root, "alice", nil)
		if err != nil {
			t.Fatal(err)
		}
		folders, _ := a.Catalog.Folders(context.Background())
		i := slices.IndexFunc(folders, func(f archive.FolderState) bool { return f.Name == "INBOX" })
		msgs, _ := a.Catalog.FolderMessages(context.Background(), folders[i].ID)
		m := msgs[0]
		up := archive.FlagUpdate{ID: m.ID, Flags: append(m.Flags, strings.Repeat("k", 60)), File: m.File}
		err = a.Catalog.UpdateFlags(context.Background(), []archive.FlagUpdate{up}, 1)
		a.Close()
		if err != nil {
			t.Fatal(err)
		}
		r := mailkeep(t, nil, "restore", "--config", cfg, "--account", "alice", "--to-account", "bob")
		if r.code != exitPartial || !strings.Contains(r.stdout, "alice → bob: partial") ||
			!strings.Contains(r.stdout, "1 failed") || !strings.Contains(r.stdout, "Keyword length too long") {
			t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, exitPartial, r.stdout, r.stderr)
		}
	})
}

// errorLines returns the lines of stderr other than the config's warnings
// about unencrypted logins, which every test account here causes.
func errorLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if !strings.Contains(l, "tls none sends the login unencrypted") {
			out = append(out, l)
		}
	}
	return out
}

// TestRestoreKilled kills `mailkeep restore` with SIGKILL at three points
// of its progress, then lets a run finish: the target must hold every
// message exactly once.
func TestRestoreKilled(t *testing.T) {
	srv, cfg, _, want := restoreSetup(t, corpus.Options{Seed: 33, Count: 400, Big: 3 << 20})
	n := 0
	for _, lines := range want {
		n += len(lines)
	}
	probe := srv.Dial(t, "carol")
	for _, part := range []int{10, 40, 70} {
		cmd := exec.Command(binary, "restore", "--config", cfg, "--account", "alice", "--to-account", "carol")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		killed := false
	wait:
		for {
			select {
			case <-done:
				break wait
			case <-time.After(20 * time.Millisecond):
				if held := countMessages(t, probe); held*100 >= n*part {
					cmd.Process.Kill()
					<-done
					killed = true
					t.Logf("killed at %d of %d messages", held, n)
					break wait
				}
			}
		}
		if !killed {
			t.Errorf("the restore finished before it was killed at %d%%", part)
		}
	}
	r := mailkeep(t, nil, "restore", "--config", cfg, "--account", "alice", "--to-account", "carol")
	if r.code != exitOK {
		t.Fatalf("run after the kills: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	sameAccount(t, "after three kills", accountLines(t, srv.Dial(t, "carol")), want)
}

// countMessages counts the messages of every folder of an account.
func countMessages(t *testing.T, c *imapclient.Client) int {
	t.Helper()
	list, err := c.List("", "*", &imap.ListOptions{ReturnStatus: &imap.StatusOptions{NumMessages: true}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range list {
		if l.Status != nil && l.Status.NumMessages != nil {
			n += int(*l.Status.NumMessages)
		}
	}
	return n
}
