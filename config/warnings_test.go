package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWarnings(t *testing.T) {
	plain := edit("password_env: PW", "password: pw")
	tests := []struct {
		name string
		in   string
		mode os.FileMode
		want string // "" for no warning
	}{
		{"password in a private file", plain, 0o600, ""},
		{"password in a group-readable file", plain, 0o640,
			`account "work": password is written in a file that other users can read (mode 0640); use password_file or password_env, or chmod 600 `},
		{"password in a world-readable file", plain, 0o604, "mode 0604"},
		{"password_env in a readable file", base, 0o644, ""},
		{"tls none", withAccount("    tls: none\n"), 0o600,
			`account "work": tls none sends the login unencrypted; use implicit or starttls outside a trusted network`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "mailkeep.yaml")
			if err := os.WriteFile(path, []byte(tt.in), tt.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			checkWarnings(t, cfg.Warnings(), path+":3: ", tt.want)
		})
	}
}

func checkWarnings(t *testing.T, got []string, prefix, want string) {
	t.Helper()
	switch {
	case want == "":
		if len(got) > 0 {
			t.Errorf("unexpected warnings %q", got)
		}
	case len(got) != 1:
		t.Errorf("got warnings %q, want one holding %q", got, want)
	case !strings.HasPrefix(got[0], prefix) || !strings.Contains(got[0], want):
		t.Errorf("warning %q, want %q after %q", got[0], want, prefix)
	}
}

func TestWarningsWithoutFile(t *testing.T) {
	cfg, err := Parse([]byte(edit("password_env: PW", "password: pw")), "")
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.Warnings(); len(w) != 0 {
		t.Errorf("warnings %q for a config without a file", w)
	}
}
