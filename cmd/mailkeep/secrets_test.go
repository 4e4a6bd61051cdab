package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailkeep/mailkeep/internal/dovecottest"
)

// TestFailingSecretCommandLeaksNothing: what a failing password_command
// prints (here a wrong password, on stderr) reaches no error, log, catalog
// or status; they say that the command failed, with its exit status.
func TestFailingSecretCommandLeaksNothing(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	const leak = "Wr0ngPassw0rd-XYZ"
	cfg, root := writeConfig(t, srv, "x", "")
	data, _ := os.ReadFile(cfg)
	data = []byte(strings.Replace(string(data), "password_file:", "password_command: 'echo "+leak+" >&2; echo "+leak+"; exit 1'\n    #", 1))
	os.WriteFile(cfg, data, 0o600)

	backup := mailkeep(t, nil, "backup", "--config", cfg, "--log-level", "debug")
	status := mailkeep(t, nil, "status", "--config", cfg)
	statusJSON := mailkeep(t, nil, "status", "--config", cfg, "--json")
	catalog, _ := os.ReadFile(filepath.Join(root, "alice", "catalog.db"))
	wal, _ := os.ReadFile(filepath.Join(root, "alice", "catalog.db-wal"))
	for what, text := range map[string]string{"backup": backup.stdout + backup.stderr, "status": status.stdout + status.stderr,
		"status --json": statusJSON.stdout, "catalog": string(catalog) + string(wal)} {
		if strings.Contains(text, leak) {
			t.Errorf("%s shows the command's output:\n%s", what, text)
		}
	}
	if backup.code != exitFailure || !strings.Contains(backup.stdout+backup.stderr, "password_command: the command failed (exit status 1)") {
		t.Errorf("backup: exit %d\n%s%s", backup.code, backup.stdout, backup.stderr)
	}
	if !strings.Contains(status.stdout, "the command failed (exit status 1)") {
		t.Errorf("status does not say why the run failed:\n%s", status.stdout)
	}
}
