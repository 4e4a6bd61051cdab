package cyrustest

import (
	"strings"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/internal/servertest"
)

func TestStopLeavesNoProcesses(t *testing.T) {
	t.Parallel()
	var pids []int
	t.Cleanup(func() { // runs after the server's own cleanup
		if left := servertest.WaitExited(pids, 5*time.Second); len(left) > 0 {
			t.Errorf("processes %v still running after stop", left)
		}
	})
	s := Start(t, Options{})
	s.Dial(t, "alice")
	s.Dial(t, "bob")
	if pids = s.proc.Tree(); len(pids) < 3 {
		t.Fatalf("found only %v: want the master and two imapd", pids)
	}
}

// TestDyingTestBinaryStopsCyrus kills a test binary that is running a
// Server and checks that its Cyrus goes away too.
func TestDyingTestBinaryStopsCyrus(t *testing.T) {
	if servertest.Holding() {
		s := Start(t, Options{})
		s.Dial(t, "alice")
		servertest.Hold(s.proc, s.Dir)
		return
	}
	t.Parallel()
	pids := servertest.RunHolder(t)
	if len(pids) < 2 {
		t.Fatalf("held server had processes %v, want the master and an imapd", pids)
	}
	if left := servertest.WaitExited(pids, 10*time.Second); len(left) > 0 {
		t.Errorf("Cyrus processes %v outlived their test binary", left)
	}
}

func TestMissingCyrusIsExplained(t *testing.T) {
	t.Setenv("MAILKEEP_CYRUS_ROOT", t.TempDir())
	_, err := servertest.UnpackedRoot("MAILKEEP_CYRUS_ROOT", "/opt/mailkeep-test/cyrus", binaries...)
	if err == nil || !strings.Contains(err.Error(), "scripts/test-servers.sh") {
		t.Errorf("error = %v, want advice to run scripts/test-servers.sh", err)
	}
}
