package config

import (
	"fmt"
	"os"
)

// Warnings returns advice about a valid configuration: settings that work
// but are unsafe.
func (c *Config) Warnings() []string {
	mode, exposed := c.readableByOthers()
	var w []string
	for i := range c.Accounts {
		a := &c.Accounts[i]
		where := fmt.Sprintf("%s:%d: account %q", c.Path, a.Line, a.Name)
		if exposed && a.Password != "" {
			w = append(w, fmt.Sprintf("%s: password is written in a file that other users can read (mode %04o); use password_file or password_env, or chmod 600 %s", where, mode, c.Path))
		}
		if a.TLS == TLSNone {
			w = append(w, fmt.Sprintf("%s: tls none sends the login unencrypted; use implicit or starttls outside a trusted network", where))
		}
	}
	return append(w, c.serveWarnings(uint32(mode), exposed)...)
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
