package couriertest

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
	// couriertcpd, gam_server, authdaemond and its workers, imapd
	if pids = s.proc.Tree(); len(pids) < 4 {
		t.Fatalf("found only %v", pids)
	}
}

// TestDyingTestBinaryStopsCourier kills a test binary that is running a
// Server and checks that its Courier goes away too.
func TestDyingTestBinaryStopsCourier(t *testing.T) {
	if servertest.Holding() {
		s := Start(t, Options{})
		s.Dial(t, "alice")
		servertest.Hold(s.proc, s.Dir)
		return
	}
	t.Parallel()
	pids := servertest.RunHolder(t)
	if len(pids) < 4 {
		t.Fatalf("held server had processes %v, want four or more", pids)
	}
	if left := servertest.WaitExited(pids, 10*time.Second); len(left) > 0 {
		t.Errorf("Courier processes %v outlived their test binary", left)
	}
}

func TestMissingCourierIsExplained(t *testing.T) {
	t.Setenv("MAILKEEP_COURIER_ROOT", t.TempDir())
	_, err := servertest.UnpackedRoot("MAILKEEP_COURIER_ROOT", "/opt/mailkeep-test/courier", binaries...)
	if err == nil || !strings.Contains(err.Error(), "scripts/test-servers.sh") {
		t.Errorf("error = %v, want advice to run scripts/test-servers.sh", err)
	}
}
