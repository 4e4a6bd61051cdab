package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExpandPath(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("MK_CREDS", "/run/credentials/mailkeep.service")
	t.Setenv("MK_EMPTY", "")
	tests := []struct {
		in, want, err string
	}{
		{"", "", ""},
		{"/abs/file", "/abs/file", ""},
		{"rel/file", "/etc/mailkeep/rel/file", ""},
		{"~", home, ""},
		{"~/mk", home + "/mk", ""},
		{"~bob/mk", "", "not ~user"},
		{"$MK_CREDS/work.pass", "/run/credentials/mailkeep.service/work.pass", ""},
		{"${MK_CREDS}/work.pass", "/run/credentials/mailkeep.service/work.pass", ""},
		{"$MK_NOT_SET/x", "", "$MK_NOT_SET not set"},
		{"$MK_EMPTY/x", "", "$MK_EMPTY not set"},
	}
	for _, tc := range tests {
		got, err := expandPath("/etc/mailkeep", tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %q, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestArchiveTilde: "archive: ~/mk" is the home's mk, not a directory
// called "~" beside the config; an unset variable is a clear error.
func TestArchiveTilde(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	cfg, err := Parse([]byte(strings.Replace(base, "archive: /srv/mail", "archive: ~/mk", 1)), "/etc/mk/t.yaml")
	if err != nil || cfg.Archive != filepath.Join(home, "mk") {
		t.Fatalf("archive %q, %v", cfg.Archive, err)
	}
	_, err = Parse([]byte(strings.Replace(base, "archive: /srv/mail", "archive: $MK_UNSET_DIR/mk", 1)), "t.yaml")
	if err == nil || !strings.Contains(err.Error(), "t.yaml:1: archive: $MK_UNSET_DIR not set") {
		t.Fatalf("unset variable: %v", err)
	}
}

func TestSearch(t *testing.T) {
	xdg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", xdg)
	user := filepath.Join(xdg, "mailkeep", "mailkeep.yaml")
	for _, euid := range []int{0, 1000} {
		geteuid = func() int { return euid }
		t.Cleanup(func() { geteuid = os.Geteuid })
		t.Setenv(EnvPath, "/b.yaml")
		if got, _ := Search("/a.yaml"); got != "/a.yaml" {
			t.Errorf("uid %d: the flag: %q", euid, got)
		}
		if got, _ := Search(""); got != "/b.yaml" {
			t.Errorf("uid %d: $MAILKEEP_CONFIG: %q", euid, got)
		}
		t.Setenv(EnvPath, "")
		got, tried := Search("")
		wantTried := []string{DefaultPath}
		if euid != 0 {
			wantTried = []string{user, DefaultPath}
		}
		if got != DefaultPath || strings.Join(tried, ",") != strings.Join(wantTried, ",") {
			t.Errorf("uid %d without a user file: %q, tried %q", euid, got, tried)
		}
	}
	os.MkdirAll(filepath.Dir(user), 0o700)
	os.WriteFile(user, []byte(base), 0o600)
	if got, _ := Search(""); got != user {
		t.Errorf("a user's own file: %q, want %q", got, user)
	}
	os.Remove(user)
	_, err := LoadSearched("")
	if !errors.Is(err, ErrNoConfig) || !strings.Contains(err.Error(), user) || !strings.Contains(err.Error(), "--config") {
		t.Errorf("no config: %v", err)
	}
}
