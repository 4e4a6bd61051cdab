package servertest

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// ErrExited reports that a server process ended while it was awaited.
var ErrExited = errors.New("server process exited")

// ErrPortTaken reports that another process listens on a port the server
// was to use: pick other ports and start again.
var ErrPortTaken = errors.New("port taken by another process")

// Process is a running server process.
type Process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has been reaped
	err    error         // its exit status, valid after exited is closed
}

// Start runs cmd in its own process group; death is the signal the kernel
// sends it when the test binary dies first. cmd.SysProcAttr may carry
// credentials or namespace flags; Start adds the rest. The goroutine that
// starts the process stays locked to its OS thread until the process ends,
// because the parent-death signal fires when the creating thread exits.
func Start(cmd *exec.Cmd, death syscall.Signal) (*Process, error) {
	if err := setChildAttr(cmd, death); err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, exited: make(chan struct{})}
	started := make(chan error, 1)
	go p.run(started)
	return p, <-started
}

func (p *Process) run(started chan<- error) {
	runtime.LockOSThread() // never unlocked: the thread dies with this goroutine
	if err := p.cmd.Start(); err != nil {
		started <- fmt.Errorf("start %s: %w", p.cmd.Path, err)
		return
	}
	started <- nil
	p.err = p.cmd.Wait()
	close(p.exited)
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited is closed once the process has ended and been reaped.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Stop kills the process group with SIGKILL and waits until the process
// has been reaped. Tests have no use for a graceful shutdown.
func (p *Process) Stop(timeout time.Duration) error {
	killGroup(p.cmd.Process.Pid)
	select {
	case <-p.exited:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("%s (pid %d) still running %v after SIGKILL", p.cmd.Path, p.Pid(), timeout)
	}
}

// WaitListening waits until every address is a listening socket of the
// process or of one of its descendants. It returns an error wrapping
// ErrExited when the process ends first, ErrPortTaken when another process
// listens on an address, and gives up after timeout.
func (p *Process) WaitListening(timeout time.Duration, addrs ...string) error {
	deadline := time.Now().Add(timeout)
	for {
		switch ok, err := ownsListeners(p.Pid(), addrs); {
		case err != nil:
			return err
		case ok:
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%w: %s: %v", ErrExited, p.cmd.Path, p.err)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening on %v after %v", p.cmd.Path, addrs, timeout)
		}
	}
}

// Tree returns the ids of the process and of every process below it.
func (p *Process) Tree() []int { return descendants(p.Pid()) }

// WaitExited waits until none of pids runs (zombies count as ended) and
// returns those still running after timeout.
func WaitExited(pids []int, timeout time.Duration) []int {
	deadline := time.Now().Add(timeout)
	for {
		var left []int
		for _, pid := range pids {
			if stillRunning(pid) {
				left = append(left, pid)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond)
	}
}
