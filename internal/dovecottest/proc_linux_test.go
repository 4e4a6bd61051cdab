package dovecottest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStopLeavesNoProcesses(t *testing.T) {
	t.Parallel()
	var instance string
	t.Cleanup(func() { // runs after the server's own cleanup
		if pids := waitGone(instance, 5*time.Second); len(pids) > 0 {
			t.Errorf("processes of %s still running after stop: %v", instance, pids)
		}
	})
	s := Start(t, Options{TLS: true})
	instance = filepath.Base(s.Dir)
	s.Dial(t, "alice")
	s.Dial(t, "bob")
	if pids := instanceProcs(instance); len(pids) < 4 {
		t.Fatalf("found only %v for %s: the process scan is broken", pids, instance)
	}
}

// TestDyingTestBinaryStopsDovecot kills a test binary that is running a
// Server and checks that its Dovecot goes away too.
func TestDyingTestBinaryStopsDovecot(t *testing.T) {
	if os.Getenv("DOVECOTTEST_HOLD") == "1" {
		holdServer(t)
		return
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDyingTestBinaryStopsDovecot$")
	cmd.Env = append(os.Environ(), "DOVECOTTEST_HOLD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	dir := readHeldDir(t, out, cmd)
	cmd.Process.Kill()
	cmd.Wait()
	t.Cleanup(func() { os.RemoveAll(dir) })
	if pids := waitGone(filepath.Base(dir), 10*time.Second); len(pids) > 0 {
		t.Errorf("dovecot outlived its test binary: %v", pids)
	}
}

func holdServer(t *testing.T) {
	s := Start(t, Options{})
	s.Dial(t, "alice")
	fmt.Printf("dir=%s\n", s.Dir)
	time.Sleep(time.Minute)
}

func readHeldDir(t *testing.T, out io.Reader, cmd *exec.Cmd) string {
	t.Helper()
	t.Cleanup(func() { cmd.Process.Kill() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if dir, ok := strings.CutPrefix(sc.Text(), "dir="); ok {
			return dir
		}
	}
	t.Fatalf("the held test binary did not report its server: %v", sc.Err())
	return ""
}

// waitGone waits until no process of instance runs and returns those left.
func waitGone(instance string, timeout time.Duration) []string {
	deadline := time.Now().Add(timeout)
	for {
		pids := instanceProcs(instance)
		if len(pids) == 0 || time.Now().After(deadline) {
			return pids
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// instanceProcs lists "pid cmdline" of the processes of a Dovecot instance:
// the master names the instance's directory on its command line, the
// children carry the instance name in their process titles.
func instanceProcs(instance string) []string {
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var procs []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		cmdline := strings.ReplaceAll(string(b), "\x00", " ")
		if err == nil && strings.Contains(cmdline, instance) {
			procs = append(procs, filepath.Base(filepath.Dir(p))+" "+cmdline)
		}
	}
	return procs
}
