package servertest

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// MakeDir creates a directory for one server, mode 0755 so that the
// server's own users can traverse it, and removes it at test cleanup.
// Unix socket paths are limited to 108 bytes, so it is made in /tmp when
// TMPDIR is a long path.
func MakeDir(t testing.TB, prefix string) string {
	t.Helper()
	base := os.TempDir()
	if len(base) > 40 {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, prefix)
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err != nil {
		t.Fatalf("%s: %v", strings.TrimSuffix(prefix, "-"), err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// FreePorts returns n distinct loopback ports that were free a moment ago.
func FreePorts(n int) ([]int, error) {
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

// HostPort returns "127.0.0.1:port".
func HostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// Tail returns the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Password is the password every test server gives user.
func Password(user string) string { return "secret-" + user }
