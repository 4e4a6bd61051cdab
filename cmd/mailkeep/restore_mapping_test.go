package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
)

// TestRestoreCLIMapping moves an account to a provider of another layout:
// a Dovecot with the INBOX. prefix, "." as separator and its own names for
// special-use folders. The dry run prints the mapping, --json carries it,
// the restore follows it, and a rerun appends nothing.
func TestRestoreCLIMapping(t *testing.T) {
	src := dovecottest.Start(t, dovecottest.Options{Users: []string{"alice"}})
	dst := dovecottest.Start(t, dovecottest.Options{Users: []string{"alice"}, Prefix: "INBOX.", Separator: ".",
		SpecialUse: map[string]string{"Sent Items": `\Sent`, "Deleted Items": `\Trash`, "Archiv": `\Archive`}})
	c := src.Dial(t, "alice")
	if err := corpus.Load(t.Context(), c, corpus.Generate(corpus.Options{Seed: 33, Count: 12})); err != nil {
		t.Fatal(err)
	}
	want := accountLines(t, c)
	cfg := writeMovingConfig(t, src, dst)
	if r := mailkeep(t, nil, "backup", "--config", cfg, "old"); r.code != exitOK {
		t.Fatalf("backup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	run := func(args ...string) result {
		return mailkeep(t, nil, append([]string{"restore", "--config", cfg, "--account", "old", "--to-account", "new",
			"--no-progress"}, args...)...)
	}

	mapped := map[string]string{"INBOX": "INBOX", "Sent": "INBOX.Sent Items", "Archive": "INBOX.Archiv",
		"Archive/2024": "INBOX.Archiv.2024", "Entwürfe": "INBOX.Entwürfe", "R&D": "INBOX.Forschung",
		"Отчёты": "INBOX.Отчёты", "Empty": "INBOX.Empty"}
	r := run("--dry-run", "--map", "R&D=Forschung")
	t.Logf("dry run:\n%s", r.stdout)
	for _, line := range []string{
		`folders: source prefix "" (NAMESPACE at backup) → target prefix "INBOX." (NAMESPACE), delimiter "."`,
		`  Sent          → INBOX.Sent Items   \Sent`,
		`  Archive       → INBOX.Archiv       \Archive (by its name)`,
		`  Archive/2024  → INBOX.Archiv.2024  below Archive; to create`,
		`  Entwürfe      → INBOX.Entwürfe     \Drafts (by its name); to create`,
		`  R&D           → INBOX.Forschung    --map; to create`,
		`  INBOX         → INBOX`,
	} {
		if r.code != exitOK || !strings.Contains(r.stdout, line+"\n") {
			t.Errorf("dry run: exit %d, no line %q", r.code, line)
		}
	}

	r = run("--dry-run", "--json", "--map", "R&D=Forschung")
	var rep restoreReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Mapping == nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	if tg := rep.Mapping.Target; tg.Prefix != "INBOX." || tg.Delimiter != "." || tg.PrefixFrom != "NAMESPACE" ||
		tg.SpecialUse != "RETURN (SPECIAL-USE)" || tg.CreateSpecialUse {
		t.Errorf("--json target: %+v", tg)
	}
	for _, f := range rep.Mapping.Folders {
		if f.Target != mapped[f.Source] {
			t.Errorf("--json: %q → %q, want %q", f.Source, f.Target, mapped[f.Source])
		}
	}

	r = run("--map", "R&D=Forschung")
	if r.code != exitOK {
		t.Fatalf("restore: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	got := accountLines(t, dst.Dial(t, "alice"))
	for from, to := range mapped {
		if !slices.Equal(got[to], want[from]) {
			t.Errorf("%q restored as %q holds %d messages, want the %d of the source", from, to, len(got[to]), len(want[from]))
		}
	}
	r = run("--map", "R&D=Forschung")
	if r.code != exitOK || !strings.Contains(r.stdout, " 0 messages appended") {
		t.Fatalf("second restore: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	for _, tc := range []struct{ args, want string }{
		{"Nope=X", `no such folder in the archive: --map "Nope"`},
		{"R&D", "--map \"R&D\": want OLD=NEW"},
	} {
		r = run("--dry-run", "--map", tc.args)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("--map %s: exit %d, want %d and %q\n%s", tc.args, r.code, exitUsage, tc.want, r.stderr)
		}
	}
}

// writeMovingConfig writes a config with the account "old" on from and
// "new" on to, both logging in as alice.
func writeMovingConfig(t *testing.T, from, to *dovecottest.Server) string {
	t.Helper()
	dir := t.TempDir()
	pass := filepath.Join(dir, "alice.pass")
	if err := os.WriteFile(pass, []byte(from.Password("alice")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "archive: %s/archive\naccounts:\n", dir)
	for name, srv := range map[string]*dovecottest.Server{"old": from, "new": to} {
		host, port, _ := strings.Cut(srv.IMAPAddr, ":")
		fmt.Fprintf(&b, "  - name: %s\n    protocol: imap\n    host: %s\n    port: %s\n    tls: none\n"+
			"    username: alice\n    password_file: %s\n", name, host, port, pass)
	}
	path := filepath.Join(dir, "mailkeep.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
