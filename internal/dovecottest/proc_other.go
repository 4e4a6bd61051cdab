//go:build !linux

package dovecottest

import (
	"os"
	"syscall"
)

// childAttr has no parent-death signal outside Linux: a test binary that
// dies without running its cleanups leaves its Dovecot running.
func childAttr() *syscall.SysProcAttr { return nil }

// terminate asks the master to stop; it stops its children.
func terminate(p *os.Process) { _ = p.Signal(syscall.SIGTERM) }

// kill ends the master; children serving a connection live on until it
// closes.
func kill(p *os.Process) { _ = p.Kill() }
