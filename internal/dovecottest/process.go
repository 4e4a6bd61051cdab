package dovecottest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

const (
	startTimeout = 15 * time.Second
	stopTimeout  = 10 * time.Second
)

// errAddrInUse reports that a listener could not bind its port; the caller
// picks new ports and tries again.
var errAddrInUse = errors.New("address in use")

// master is a running Dovecot master process.
type master struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has been reaped
	err    error         // exit status, valid after exited is closed
}

// startMaster runs "dovecot -F -c conf" as a child. The goroutine that starts
// it stays locked to its OS thread until the process ends, because the
// parent-death signal fires when the creating thread exits, not the process.
func startMaster(conf, stderrPath string) (*master, error) {
	bin, err := dovecotBinary()
	if err != nil {
		return nil, err
	}
	stderr, err := os.Create(stderrPath)
	if err != nil {
		return nil, err
	}
	m := &master{cmd: exec.Command(bin, "-F", "-c", conf), exited: make(chan struct{})}
	m.cmd.Stdout, m.cmd.Stderr = stderr, stderr
	m.cmd.SysProcAttr = childAttr()
	started := make(chan error, 1)
	go m.run(started, stderr)
	return m, <-started
}

func (m *master) run(started chan<- error, stderr *os.File) {
	runtime.LockOSThread() // never unlocked: the thread dies with this goroutine
	defer stderr.Close()
	if err := m.cmd.Start(); err != nil {
		started <- fmt.Errorf("start dovecot: %w", err)
		return
	}
	started <- nil
	m.err = m.cmd.Wait()
	close(m.exited)
}

// sbinDovecot is where Debian installs dovecot; tests change it.
var sbinDovecot = "/usr/sbin/dovecot"

// dovecotBinary finds dovecot in PATH or in /usr/sbin, which is often not in
// a non-root user's PATH.
func dovecotBinary() (string, error) {
	if p, err := exec.LookPath("dovecot"); err == nil {
		return p, nil
	}
	if _, err := os.Stat(sbinDovecot); err == nil {
		return sbinDovecot, nil
	}
	return "", errors.New("dovecot binary not found in PATH or /usr/sbin: " +
		"install Dovecot (Debian/Ubuntu: apt-get install dovecot-imapd dovecot-pop3d)")
}

// stop kills Dovecot and waits until the master has been reaped. Tests
// have no use for a graceful shutdown: the server's directory is removed
// right after.
func (m *master) stop() error {
	kill(m.cmd.Process)
	select {
	case <-m.exited:
		return nil
	case <-time.After(stopTimeout):
		return fmt.Errorf("dovecot master (pid %d) still running %v after SIGKILL", m.cmd.Process.Pid, stopTimeout)
	}
}

// waitListening waits until every address accepts TCP connections and the
// master has logged that it is starting up, which it does only after it has
// bound all its listeners: a port that accepts may belong to another
// server that took it first. It gives up when the master exits or after
// startTimeout.
func (m *master) waitListening(logPath string, addrs ...string) error {
	deadline := time.Now().Add(startTimeout)
	for !m.started(logPath) || !allAccept(addrs) {
		select {
		case <-m.exited:
			return exitError(m.err, logPath)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dovecot not listening on %v after %v", addrs, startTimeout)
		}
	}
	return nil
}

func (m *master) started(logPath string) bool {
	log, _ := os.ReadFile(logPath)
	return bytes.Contains(log, []byte("master: Info: Dovecot v")) && bytes.Contains(log, []byte(" starting up"))
}

func allAccept(addrs []string) bool {
	for _, a := range addrs {
		if !accepts(a) {
			return false
		}
	}
	return true
}

func accepts(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// exitError explains an early exit, as errAddrInUse when a port was taken.
func exitError(err error, logPath string) error {
	out, _ := os.ReadFile(logPath)
	stderr, _ := os.ReadFile(filepath.Join(filepath.Dir(logPath), "stderr.log"))
	all := string(out) + string(stderr)
	if strings.Contains(all, "Address already in use") {
		return errAddrInUse
	}
	return fmt.Errorf("dovecot exited during start (%v):\n%s", err, tail(all, 20))
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
