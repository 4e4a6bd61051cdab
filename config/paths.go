package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// expandPath expands a path as a shell would, for the keys that name files
// and directories: a leading "~" or "~/" is the home directory, $VAR and
// ${VAR} are environment variables (so that, under systemd,
// "$CREDENTIALS_DIRECTORY/work.pass" names a credential). A variable that
// is not set, or "~user", is an error rather than a literal directory
// called "~" or "$X". A relative result is taken from dir.
func expandPath(dir, path string) (string, error) {
	if path == "" {
		return "", nil
	}
	if strings.HasPrefix(path, "~") {
		rest, ok := strings.CutPrefix(path, "~")
		if rest != "" && !strings.HasPrefix(rest, "/") {
			ok = false
		}
		if !ok {
			return "", fmt.Errorf("%q: only ~ and ~/… are expanded, not ~user", path)
		}
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("%q: %w", path, err)
		}
		path = home + rest
	}
	var missing []string
	path = os.Expand(path, func(name string) string {
		v, ok := os.LookupEnv(name)
		if !ok || v == "" {
			missing = append(missing, "$"+name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("%s not set (in %q)", strings.Join(missing, ", "), path)
	}
	if filepath.IsAbs(path) {
		return path, nil
	}
	return filepath.Join(dir, path), nil
}

// resolvePath expands the path of key (see expandPath), reporting a
// failure on s.
func resolvePath(s *section, key, dir, path string) string {
	p, err := expandPath(dir, path)
	if err != nil {
		s.errorf(key, "%s: %v", key, err)
		return path
	}
	return p
}

// Search returns the configuration file to read and the places looked
// at: flag if it is not empty, else $MAILKEEP_CONFIG if set, else for a
// user other than root $XDG_CONFIG_HOME/mailkeep/mailkeep.yaml (or
// ~/.config/mailkeep/mailkeep.yaml) when it exists, else DefaultPath.
func Search(flag string) (path string, tried []string) {
	if flag != "" {
		return flag, []string{flag}
	}
	if env := os.Getenv(EnvPath); env != "" {
		return env, []string{"$" + EnvPath + "=" + env}
	}
	if user := userConfigPath(); user != "" {
		if _, err := os.Stat(user); err == nil {
			return user, []string{user}
		}
		tried = append(tried, user)
	}
	return DefaultPath, append(tried, DefaultPath)
}

// userConfigPath is a non-root user's configuration file, or "".
func userConfigPath() string {
	if geteuid() == 0 {
		return ""
	}
	dir := os.Getenv("XDG_CONFIG_HOME")
	if !filepath.IsAbs(dir) {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "mailkeep", "mailkeep.yaml")
}

// ErrNoConfig reports that no configuration file was found.
var ErrNoConfig = errors.New("no configuration file")

// LoadSearched loads the configuration Search finds; a file that is not
// there is an error wrapping ErrNoConfig that says where mailkeep looked
// and how to name one.
func LoadSearched(flag string) (*Config, error) {
	path, tried := Search(flag)
	cfg, err := Load(path)
	if errors.Is(err, os.ErrNotExist) && flag == "" {
		return nil, fmt.Errorf("%w: looked for %s; pass --config FILE or set %s", ErrNoConfig,
			strings.Join(tried, " and "), EnvPath)
	}
	return cfg, err
}
