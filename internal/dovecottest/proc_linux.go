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

// kill sends SIGKILL to the master's whole process group: all of Dovecot
// ends at once. A graceful stop (SIGTERM to the master) takes about a
// second, and SIGTERM to the whole group can leave the master waiting for
// a log process it respawns.
func kill(p *os.Process) {
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
}
