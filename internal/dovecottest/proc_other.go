//go:build !linux

package dovecottest

import (
	"os"
	"syscall"
)

// childAttr has no parent-death signal outside Linux: a test binary that
// dies without running its cleanups leaves its Dovecot running.
func childAttr() *syscall.SysProcAttr { return nil }

// kill ends the master; children serving a connection live on until it
// closes.
func kill(p *os.Process) { _ = p.Kill() }
