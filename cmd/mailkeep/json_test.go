package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
)

// accountsConfig adds to a config for alice the accounts bob (a wrong
// password) and carol (a closed port), each failing for its own reason.
func accountsConfig(t *testing.T, srv *dovecottest.Server) string {
	t.Helper()
	host, port, _ := strings.Cut(srv.IMAPAddr, ":")
	extra := fmt.Sprintf(`  - {name: bob, protocol: imap, host: %s, port: %s, tls: none, username: bob, password_env: MK_WRONG}
  - {name: carol, protocol: imap, host: %s, port: 1, tls: none, username: carol, password_env: MK_WRONG}
`, host, port, host)
	cfg, _ := writeConfig(t, srv, srv.Password("alice"), extra)
	return cfg
}

// TestEachAccountItsCause: when several accounts fail, each line says why.
func TestEachAccountItsCause(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	if err := corpus.Load(t.Context(), srv.Dial(t, "alice"), corpus.Generate(corpus.Options{Seed: 5, Count: 5})); err != nil {
		t.Fatal(err)
	}
	cfg := accountsConfig(t, srv)
	r := mailkeep(t, []string{"MK_WRONG=not-the-password"}, "backup", "--config", cfg, "--no-progress")
	if r.code != exitFailure {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"alice: ok — ", "bob: failed — ", "authentication failed",
		"carol: failed — ", "connection refused"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if strings.HasPrefix(line, "bob:") && !strings.Contains(line, "authentication failed") ||
			strings.HasPrefix(line, "carol:") && !strings.Contains(line, "connection refused") {
			t.Errorf("an account's line without its own cause: %q", line)
		}
	}
}

// TestJSONOutput: --json prints one object per account with the fields the
// README documents.
func TestJSONOutput(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	msgs := corpus.Generate(corpus.Options{Seed: 6, Count: 8})
	if err := corpus.Load(t.Context(), srv.Dial(t, "alice"), msgs); err != nil {
		t.Fatal(err)
	}
	cfg := accountsConfig(t, srv)
	env := []string{"MK_WRONG=not-the-password"}

	r := mailkeep(t, env, "backup", "--config", cfg, "--json")
	objs := jsonLines(t, r.stdout, 3)
	wantFields(t, "backup", objs[0], "account", "outcome", "run", "folders", "new_messages", "new_bytes",
		"flag_updates", "gone", "server_deleted", "errors", "duration_seconds")
	if objs[0]["account"] != "alice" || objs[0]["outcome"] != "ok" || objs[0]["new_messages"] != float64(len(msgs)) {
		t.Errorf("alice: %v", objs[0])
	}
	if objs[1]["outcome"] != "failed" || !strings.Contains(fmt.Sprint(objs[1]["error"]), "authentication failed") {
		t.Errorf("bob: %v", objs[1])
	}
	if strings.Contains(r.stdout+r.stderr, "not-the-password") {
		t.Error("the password is in the output")
	}

	r = mailkeep(t, nil, "verify", "--config", cfg, "--json", "alice")
	objs = jsonLines(t, r.stdout, 1)
	wantFields(t, "verify", objs[0], "account", "outcome", "folders", "messages", "bytes", "unrepaired", "problems")
	if r.code != exitOK || objs[0]["outcome"] != "clean" || objs[0]["messages"] != float64(len(msgs)) {
		t.Errorf("verify: exit %d, %v", r.code, objs[0])
	}

	r = mailkeep(t, env, "restore", "--config", cfg, "--account", "alice", "--dry-run", "--json")
	objs = jsonLines(t, r.stdout, 1)
	wantFields(t, "restore", objs[0], "account", "target", "outcome", "dry_run", "folders", "created",
		"appended", "bytes", "already_present", "failed", "duration_seconds")
	if r.code != exitOK || objs[0]["already_present"] != float64(len(msgs)) || objs[0]["dry_run"] != true {
		t.Errorf("restore: exit %d, %v\n%s", r.code, objs[0], r.stderr)
	}
}

func jsonLines(t *testing.T, out string, n int) []map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines, want %d JSON objects:\n%s", len(lines), n, out)
	}
	var objs []map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q: %v", l, err)
		}
		objs = append(objs, m)
	}
	return objs
}

func wantFields(t *testing.T, what string, obj map[string]any, fields ...string) {
	t.Helper()
	for _, f := range fields {
		if _, ok := obj[f]; !ok {
			t.Errorf("%s JSON lacks %q: %v", what, f, obj)
		}
	}
}
