package dovecottest

import (
	"os"
	"syscall"
)

// childAttr puts Dovecot's master in its own process group and makes the
// kernel send it SIGTERM if the test binary dies without stopping it; the
// master then stops its children.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
}

// terminate sends SIGTERM to the master's whole process group. Signalling
// only the master works too, but it then spends about a second stopping its
// children one by one.
func terminate(p *os.Process) {
	_ = syscall.Kill(-p.Pid, syscall.SIGTERM)
}

// kill sends SIGKILL to the master's whole process group.
func kill(p *os.Process) {
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
}
