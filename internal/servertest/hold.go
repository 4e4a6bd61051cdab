package servertest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// holdEnv tells a test binary started by RunHolder to hold its server.
const holdEnv = "SERVERTEST_HOLD"

// Holding reports whether this test binary was started by RunHolder to
// start a server and hold it.
func Holding() bool { return os.Getenv(holdEnv) == "1" }

// Hold reports the directory and the processes of a held server to
// RunHolder and waits to be killed.
func Hold(p *Process, dir string) {
	fmt.Printf("dir=%s\npids=%s\n", dir, strings.Trim(fmt.Sprint(p.Tree()), "[]"))
	time.Sleep(time.Minute)
}

// RunHolder runs the current test (by name) again in a new test binary
// that holds a server (see Holding), kills that binary once the server
// runs, and returns the ids of the server's processes. The server's
// directory, which the killed binary leaves, is removed at cleanup.
func RunHolder(t *testing.T) []int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$")
	cmd.Env = append(os.Environ(), holdEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if dir, ok := strings.CutPrefix(sc.Text(), "dir="); ok {
			t.Cleanup(func() { os.RemoveAll(dir) })
		}
		if list, ok := strings.CutPrefix(sc.Text(), "pids="); ok {
			var pids []int
			for _, f := range strings.Fields(list) {
				pid, _ := strconv.Atoi(f)
				pids = append(pids, pid)
			}
			return pids
		}
	}
	t.Fatalf("the holding test binary did not report its server: %v", sc.Err())
	return nil
}
