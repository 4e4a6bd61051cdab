package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
)

// TestFoldersDryRunConfigCheck: the commands that let a user and a script
// try a configuration before a first backup.
func TestFoldersDryRunConfigCheck(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	msgs := corpus.Generate(corpus.Options{Seed: 12, Count: 30})
	if err := corpus.Load(t.Context(), srv.Dial(t, "alice"), msgs); err != nil {
		t.Fatal(err)
	}
	sent := 0
	for _, m := range msgs {
		if m.Folder == "Sent" {
			sent++
		}
	}
	cfg, _ := writeConfig(t, srv, srv.Password("alice"), "    folders:\n      exclude: [\"Sent\"]\n")

	r := mailkeep(t, nil, "folders", "--config", cfg, "alice")
	if r.code != exitOK || !strings.Contains(r.stdout, "no: excluded by folders.include/exclude") ||
		!strings.Contains(r.stdout, "INBOX") {
		t.Fatalf("folders: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = mailkeep(t, nil, "folders", "--config", cfg, "--json", "alice")
	var rows []folderRow
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) == 0 {
		t.Fatalf("folders --json: %v\n%s", err, r.stdout)
	}

	r = mailkeep(t, nil, "backup", "--config", cfg, "--dry-run", "--json")
	objs := jsonLines(t, r.stdout, 1)
	if r.code != exitOK || objs[0]["fetch"] != float64(len(msgs)-sent) {
		t.Fatalf("dry run before the first backup: exit %d, %v (want %d to fetch)", r.code, objs[0], len(msgs)-sent)
	}
	if _, err := os.Stat(strings.TrimSuffix(cfg, "mailkeep.yaml") + "archive/alice"); err == nil {
		t.Error("a dry run created the archive")
	}
	if r := mailkeep(t, nil, "backup", "--config", cfg); r.code != exitOK {
		t.Fatalf("backup: exit %d\n%s", r.code, r.stderr)
	}
	more := corpus.More(corpus.Options{Seed: 12, Count: 30}, 3, 0)
	if err := corpus.Load(t.Context(), srv.Dial(t, "alice"), more); err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, m := range more {
		if m.Folder != "Sent" {
			want++
		}
	}
	r = mailkeep(t, nil, "backup", "--config", cfg, "--dry-run")
	if r.code != exitOK || !strings.Contains(r.stdout, "alice: dry run — "+plural(want, "message")) ||
		!strings.Contains(r.stdout, ": unchanged") {
		t.Fatalf("dry run after new mail: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = mailkeep(t, nil, "config", "check", "--config", cfg)
	if r.code != exitOK || !strings.Contains(r.stdout, "alice: ok — logged in to ") {
		t.Fatalf("config check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	bad, _ := writeConfig(t, srv, "wrong-password-123", "")
	r = mailkeep(t, nil, "config", "check", "--config", bad)
	if r.code != exitFailure || !strings.Contains(r.stdout, "alice: ") || !strings.Contains(r.stdout, "authentication failed") ||
		strings.Contains(r.stdout+r.stderr, "wrong-password-123") {
		t.Fatalf("config check with a wrong password: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := mailkeep(t, nil, "config", "check", "--config", bad, "--no-login"); r.code != exitOK {
		t.Fatalf("config check --no-login: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestMissingConfig: without --config and $MAILKEEP_CONFIG, mailkeep says
// where it looked and how to name a file.
func TestMissingConfig(t *testing.T) {
	if _, err := os.Stat("/etc/mailkeep/mailkeep.yaml"); err == nil {
		t.Fatal("this machine has /etc/mailkeep/mailkeep.yaml: the test needs it absent")
	}
	r := mailkeep(t, []string{"MAILKEEP_CONFIG=", "XDG_CONFIG_HOME=" + t.TempDir()}, "status")
	if r.code != exitUsage || !strings.Contains(r.stderr, "no configuration file: looked for") ||
		!strings.Contains(r.stderr, "--config FILE") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
}
