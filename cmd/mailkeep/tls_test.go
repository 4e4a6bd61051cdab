package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailkeep/mailkeep/internal/dovecottest"
)

// TestCLITLSHints: the TLS settings a user gets wrong fail the backup at
// once with a hint in the summary, and mailkeep status shows it with the
// last run's error.
func TestCLITLSHints(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{TLS: true})
	tests := []struct {
		name, addr, protocol, extra, want string
	}{
		{"imap: TLS to the plain port", srv.IMAPAddr, "imap", "    tls: implicit\n    ca_file: " + srv.CACert + "\n", "try `tls: starttls`, or port 993"},
		{"pop3: TLS to the plain port", srv.POP3Addr, "pop3", "    tls: implicit\n    ca_file: " + srv.CACert + "\n", "try `tls: starttls`, or port 995"},
		{"imap: no CA file", srv.IMAPSAddr, "imap", "    tls: implicit\n", "set `ca_file`"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := writeAccount(t, tc.protocol, tc.addr, srv.Password("bob"), tc.extra)
			r := mailkeep(t, nil, "backup", "--config", cfg)
			t.Logf("%s%s", r.stdout, r.stderr)
			if r.code != exitFailure || !strings.Contains(r.stdout+r.stderr, tc.want) {
				t.Fatalf("exit %d, want %d and %q\nstdout: %s\nstderr: %s", r.code, exitFailure, tc.want, r.stdout, r.stderr)
			}
			if strings.Contains(r.stdout+r.stderr, srv.Password("bob")) {
				t.Errorf("password in output:\n%s%s", r.stdout, r.stderr)
			}
			r = mailkeep(t, nil, "status", "--config", cfg)
			if !strings.Contains(r.stdout, tc.want) {
				t.Errorf("status lacks %q:\n%s", tc.want, r.stdout)
			}
		})
	}
}

// writeAccount writes a config whose one account, bob's, is named "bob".
func writeAccount(t *testing.T, protocol, addr, password, extra string) string {
	t.Helper()
	dir := t.TempDir()
	pass := filepath.Join(dir, "bob.pass")
	if err := os.WriteFile(pass, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(addr, ":")
	cfg := fmt.Sprintf(`archive: %s/archive
accounts:
  - name: bob
    protocol: %s
    host: %s
    port: %s
    username: bob
    password_file: %s
%s`, dir, protocol, host, port, pass, extra)
	path := filepath.Join(dir, "mailkeep.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
