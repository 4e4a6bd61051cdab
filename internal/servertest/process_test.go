package servertest_test

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/internal/servertest"
)

// The test binary plays the server: with SERVERTEST_ROLE set, TestMain
// does what the role says instead of running tests.
func TestMain(m *testing.M) {
	switch os.Getenv("SERVERTEST_ROLE") {
	case "":
		os.Exit(m.Run())
	case "listen": // listen on SERVERTEST_ADDR, then wait
		ln, err := net.Listen("tcp", os.Getenv("SERVERTEST_ADDR"))
		if err != nil {
			os.Exit(3)
		}
		defer ln.Close()
		time.Sleep(time.Minute)
	case "parent": // start a child that waits, then wait
		child := exec.Command(os.Args[0])
		child.Env = []string{"SERVERTEST_ROLE=wait"}
		child.Start()
		time.Sleep(time.Minute)
	case "wait":
		time.Sleep(time.Minute)
	case "exit":
		os.Exit(1)
	}
}

func start(t *testing.T, role, addr string) *servertest.Process {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = []string{"SERVERTEST_ROLE=" + role, "SERVERTEST_ADDR=" + addr}
	p, err := servertest.Start(cmd, syscall.SIGKILL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(5 * time.Second) })
	return p
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ports, err := servertest.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return servertest.HostPort(ports[0])
}

func TestWaitListeningSeesItsOwnListener(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	p := start(t, "listen", addr)
	if err := p.WaitListening(10*time.Second, addr); err != nil {
		t.Fatal(err)
	}
}

func TestWaitListeningRefusesAnotherProcesssPort(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := start(t, "wait", "")
	if err := p.WaitListening(10*time.Second, ln.Addr().String()); !errors.Is(err, servertest.ErrPortTaken) {
		t.Errorf("WaitListening on a port this test holds = %v, want ErrPortTaken", err)
	}
}

func TestWaitListeningReportsAnExit(t *testing.T) {
	t.Parallel()
	p := start(t, "exit", "")
	if err := p.WaitListening(10*time.Second, freeAddr(t)); !errors.Is(err, servertest.ErrExited) {
		t.Errorf("WaitListening = %v, want ErrExited", err)
	}
}

func TestStopKillsTheGroup(t *testing.T) {
	t.Parallel()
	p := start(t, "parent", "")
	var tree []int
	for deadline := time.Now().Add(10 * time.Second); len(tree) < 2 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		tree = p.Tree()
	}
	if len(tree) < 2 {
		t.Fatalf("process tree %v, want the process and its child", tree)
	}
	if err := p.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if left := servertest.WaitExited(tree, 5*time.Second); len(left) > 0 {
		t.Errorf("still running after Stop: %v", left)
	}
}

func TestUnpackedRootExplainsWhatIsMissing(t *testing.T) {
	t.Setenv("SERVERTEST_ROOT", t.TempDir())
	_, err := servertest.UnpackedRoot("SERVERTEST_ROOT", "/nonexistent", "usr/sbin/server")
	if err == nil {
		t.Fatal("no error for a root without the server")
	}
	t.Log(err)
}
