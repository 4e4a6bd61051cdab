package config

import (
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
)

// Warning is advice about a setting that works but is unsafe.
type Warning struct {
	Account string // the account it concerns
	Text    string // "<file>:<line>: …"
}

// Warnings returns advice about the accounts named (all when none are):
// settings that work but are unsafe.
func (c *Config) Warnings(names ...string) []Warning {
	mode, exposed := c.readableByOthers()
	var w []Warning
	for i := range c.Accounts {
		a := &c.Accounts[i]
		if len(names) > 0 && !slices.Contains(names, a.Name) {
			continue
		}
		at := fmt.Sprintf("%s:%d", c.Path, a.Line)
		if exposed && a.Password != "" {
			w = append(w, Warning{a.Name, fmt.Sprintf("%s: password is written in a file that other users can read (mode %04o); use password_file or password_env, or chmod 600 %s", at, mode, c.Path)})
		}
		if a.TLS == TLSNone && !loopback(a.Host) {
			w = append(w, Warning{a.Name, fmt.Sprintf("%s: tls none sends the login unencrypted; use implicit or starttls outside a trusted network", at)})
		}
		for _, e := range insecureReplicas(a) {
			w = append(w, Warning{a.Name, fmt.Sprintf("%s: replicate endpoint %s sends the archive unencrypted; use https outside a trusted network", at, e)})
		}
	}
	return append(w, c.serveWarnings(uint32(mode), exposed)...)
}

// loopback reports whether host names this machine.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// readableByOthers returns the permission bits of the configuration file
// and whether its group or others may read it.
func (c *Config) readableByOthers() (os.FileMode, bool) {
	if c.Path == "" {
		return 0, false
	}
	fi, err := os.Stat(c.Path)
	if err != nil {
		return 0, false
	}
	mode := fi.Mode().Perm()
	return mode, mode&0o044 != 0
}
