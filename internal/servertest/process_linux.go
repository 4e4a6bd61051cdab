package servertest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

func setChildAttr(cmd *exec.Cmd, death syscall.Signal) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = death
	return nil
}

// killGroup kills the process and its group; the process may have left
// the group (couriertcpd makes its own).
func killGroup(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// ownsListeners reports whether each address is a listening TCP socket
// held by root or one of its descendants. A listening socket held by
// another process is ErrPortTaken: only one socket listens on an address.
func ownsListeners(root int, addrs []string) (bool, error) {
	want := map[string]string{} // "socket:[inode]" → address
	for _, a := range addrs {
		inode, err := listenInode(a)
		if err != nil || inode == "" {
			return false, err
		}
		want["socket:["+inode+"]"] = a
	}
	for _, pid := range descendants(root) {
		dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
		fds, _ := os.ReadDir(dir)
		for _, fd := range fds {
			link, _ := os.Readlink(filepath.Join(dir, fd.Name()))
			delete(want, link)
		}
	}
	for _, a := range want {
		if stillRunning(root) {
			return false, fmt.Errorf("%w: %s", ErrPortTaken, a)
		}
		return false, nil // the caller sees the exit
	}
	return true, nil
}

// stillRunning reports whether pid exists and is not a zombie.
func stillRunning(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	return len(f) > 0 && f[0] != "Z"
}

// listenInode returns the inode of the listening IPv4 socket bound to
// addr, or "" when there is none.
func listenInode(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	ip := net.ParseIP(host).To4()
	p, err := strconv.Atoi(port)
	if ip == nil || err != nil {
		return "", fmt.Errorf("not an IPv4 address: %s", addr)
	}
	// /proc/net/tcp spells the address as the 32-bit number in host
	// (little-endian) order, the port big-endian, both in hex.
	local := fmt.Sprintf("%02X%02X%02X%02X:%04X", ip[3], ip[2], ip[1], ip[0], p)
	table, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(table), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 9 && f[1] == local && f[3] == "0A" { // 0A: LISTEN
			return f[9], nil
		}
	}
	return "", nil
}

// descendants returns root and every process below it.
func descendants(root int) []int {
	children := map[int][]int{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, s := range stats {
		b, err := os.ReadFile(s)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(b), ')')
		f := strings.Fields(string(b[i+1:]))
		if i < 0 || len(f) < 2 {
			continue
		}
		pid, err1 := strconv.Atoi(filepath.Base(filepath.Dir(s)))
		ppid, err2 := strconv.Atoi(f[1])
		if err1 == nil && err2 == nil {
			children[ppid] = append(children[ppid], pid)
		}
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}
