package config

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
)

// DefaultServeListen is serve.listen when it is left out.
const DefaultServeListen = "127.0.0.1:1143"

// Serve holds the settings of "mailkeep serve", which the agent also
// applies when the section is present. Exactly one of the four password
// sources is set: every account logs in with its name and this password.
type Serve struct {
	Listen          string `yaml:"listen"`           // host:port; default DefaultServeListen
	TLSCert         string `yaml:"tls_cert"`         // PEM certificate chain: TLS from the first byte
	TLSKey          string `yaml:"tls_key"`          // its PEM private key
	Password        string `yaml:"password"`         // the password itself
	PasswordFile    string `yaml:"password_file"`    // file holding the password
	PasswordEnv     string `yaml:"password_env"`     // environment variable holding it
	PasswordCommand string `yaml:"password_command"` // sh -c command printing it
	Line            int    `yaml:"-"`                // line of the section in the file
}

// Secret returns serve's password. Errors name the key, file, variable or
// exit status; they never hold the password.
func (s *Serve) Secret(ctx context.Context) (string, error) {
	var v string
	var err error
	switch {
	case s.Password != "":
		v = s.Password
	case s.PasswordFile != "":
		v, err = readSecretFile("password_file", s.PasswordFile)
	case s.PasswordEnv != "":
		v, err = envSecret("password_env", s.PasswordEnv)
	case s.PasswordCommand != "":
		v, err = runSecret(ctx, "password_command", s.PasswordCommand)
	default:
		err = errors.New("no password source set")
	}
	if err != nil {
		return "", fmt.Errorf("serve: %w", err)
	}
	return v, nil
}

func checkServe(cfg *Config, s *section, dir string) {
	if cfg.Serve == nil {
		if _, written := s.lines["serve"]; written {
			s.errorf("serve", "serve: empty; set at least its password (password_file, password_env, password_command or password)")
		}
		return
	}
	sv := cfg.Serve
	sv.Line = s.lines["serve"]
	sv.Listen = orDefault(sv.Listen, DefaultServeListen)
	_, port, err := net.SplitHostPort(sv.Listen)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 1 || n > 65535 {
		s.errorf("serve.listen", "serve.listen: %q is not host:port with a port number (e.g. %q)", sv.Listen, DefaultServeListen)
	}
	switch {
	case sv.TLSCert != "" && sv.TLSKey == "":
		s.errorf("serve.tls_cert", "serve.tls_cert: needs tls_key, the certificate's private key")
	case sv.TLSKey != "" && sv.TLSCert == "":
		s.errorf("serve.tls_key", "serve.tls_key: needs tls_cert, the certificate")
	}
	sv.TLSCert = resolvePath(s, "serve.tls_cert", dir, sv.TLSCert)
	sv.TLSKey = resolvePath(s, "serve.tls_key", dir, sv.TLSKey)
	sv.PasswordFile = resolvePath(s, "serve.password_file", dir, sv.PasswordFile)
	checkServePassword(sv, s)
}

func checkServePassword(sv *Serve, s *section) {
	var keys []string
	for _, src := range [...]struct{ key, v string }{
		{"password", sv.Password}, {"password_file", sv.PasswordFile},
		{"password_env", sv.PasswordEnv}, {"password_command", sv.PasswordCommand},
	} {
		if s.broken["serve."+src.key] {
			return // its value did not decode: said already
		}
		if src.v != "" {
			keys = append(keys, "serve."+src.key)
		}
	}
	switch len(keys) {
	case 0:
		s.errorf("serve", "serve: no password: set one of password, password_file, password_env, password_command")
	case 1:
	default:
		s.errorf(keys[1], "%s: conflicts with %s; set only one password source", keys[1], keys[0])
	}
}

// serveWarnings advises about a serve password written in a file others
// can read. It concerns no account, and comes whatever accounts are named.
func (c *Config) serveWarnings(mode uint32, exposed bool) []Warning {
	if c.Serve == nil || c.Serve.Password == "" || !exposed {
		return nil
	}
	return []Warning{{Text: fmt.Sprintf("%s:%d: serve.password is written in a file that other users can read (mode %04o); "+
		"use password_file or password_env, or chmod 600 %s", c.Path, c.Serve.Line, mode, c.Path)}}
}
