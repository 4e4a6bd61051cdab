//go:build !linux

package servertest

import (
	"errors"
	"os/exec"
	"syscall"
)

var errNotLinux = errors.New("the test servers need Linux (parent-death signal, /proc)")

func setChildAttr(*exec.Cmd, syscall.Signal) error { return errNotLinux }

func killGroup(pid int) { _ = syscall.Kill(-pid, syscall.SIGKILL) }

func ownsListeners(int, []string) (bool, error) { return false, errNotLinux }

func descendants(pid int) []int { return []int{pid} }

func stillRunning(int) bool { return false }
