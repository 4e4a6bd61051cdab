package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// geteuid is os.Geteuid; tests replace it.
var geteuid = os.Geteuid

// DefaultStateDir is where mailkeep keeps state that must not travel with
// the archive (OAuth2 tokens) when state_dir is left out:
//
//   - $STATE_DIRECTORY, set by systemd for a unit with StateDirectory=
//     (the first directory, if it lists several);
//   - /var/lib/mailkeep/state for root;
//   - $XDG_STATE_HOME/mailkeep, else ~/.local/state/mailkeep, for anyone
//     else.
//
// A manual run and the agent must agree on it: when they run in different
// environments (a systemd service and a login shell), set state_dir.
func DefaultStateDir() (string, error) {
	if dirs := os.Getenv("STATE_DIRECTORY"); dirs != "" {
		first, _, _ := strings.Cut(dirs, ":")
		return first, nil
	}
	if geteuid() == 0 {
		return "/var/lib/mailkeep/state", nil
	}
	if xdg := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(xdg) {
		return filepath.Join(xdg, "mailkeep"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil || !filepath.IsAbs(home) {
		return "", errors.New("no home directory ($HOME) to keep it in")
	}
	return filepath.Join(home, ".local", "state", "mailkeep"), nil
}

// checkStateDir resolves state_dir, or fills in its default when an
// account needs it, and refuses a state directory inside the archive: a
// copy, replica or export of the archive must never carry tokens.
func checkStateDir(cfg *Config, s *section, dir string) {
	if cfg.StateDir == "" && !anyOAuth2(cfg.Accounts) {
		return
	}
	key := "state_dir"
	if cfg.StateDir == "" {
		def, err := DefaultStateDir()
		if err != nil {
			s.errorf(key, "state_dir: missing, and no default: %v", err)
			return
		}
		cfg.StateDir, key = def, "archive"
	}
	cfg.StateDir = filepath.Clean(resolvePath(s, key, dir, cfg.StateDir))
	if cfg.Archive != "" && within(cfg.StateDir, cfg.Archive) {
		s.errorf(key, "state_dir: %q lies inside archive %q; keep it outside, so that a copy of the archive never carries tokens", cfg.StateDir, cfg.Archive)
	}
	for i := range cfg.Accounts {
		if cfg.Accounts[i].UsesOAuth2() {
			cfg.Accounts[i].OAuth2.StateDir = cfg.StateDir
		}
	}
}

func anyOAuth2(accounts []Account) bool {
	for i := range accounts {
		if accounts[i].UsesOAuth2() {
			return true
		}
	}
	return false
}

// within reports whether path is root or lies below it, by name and, where
// both exist, after resolving symbolic links.
func within(path, root string) bool {
	if below(path, root) {
		return true
	}
	p, err1 := filepath.EvalSymlinks(path)
	r, err2 := filepath.EvalSymlinks(root)
	return err1 == nil && err2 == nil && below(p, r)
}

func below(path, root string) bool {
	rel, err := filepath.Rel(filepath.Clean(root), filepath.Clean(path))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
