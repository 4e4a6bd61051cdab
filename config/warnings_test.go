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
			`password is written in a file that other users can read (mode 0640); use password_file or password_env, or chmod 600 `},
		{"password in a world-readable file", plain, 0o604, "mode 0604"},
		{"password_env in a readable file", base, 0o644, ""},
		{"tls none", withAccount("    tls: none\n"), 0o600,
			`tls none sends the login unencrypted; use implicit or starttls outside a trusted network`},
		{"tls none on loopback", strings.Replace(withAccount("    tls: none\n"), "mail.example.com", "127.0.0.1", 1), 0o600, ""},
		{"tls none on localhost", strings.Replace(withAccount("    tls: none\n"), "mail.example.com", "localhost", 1), 0o600, ""},
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
			if w := cfg.Warnings("another"); len(w) != 0 {
				t.Errorf("warnings for an account not asked for: %v", w)
			}
		})
	}
}

func checkWarnings(t *testing.T, warnings []Warning, prefix, want string) {
	var got []string
	for _, w := range warnings {
		if w.Account != "work" {
			t.Errorf("warning for account %q, want work", w.Account)
		}
		got = append(got, w.Text)
	}
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
