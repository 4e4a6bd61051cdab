package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
)

// crashTrials is how many times TestKillBackup kills a backup; set
// MAILKEEP_CRASH_TRIALS for a longer run.
func crashTrials() int {
	if n, err := strconv.Atoi(os.Getenv("MAILKEEP_CRASH_TRIALS")); err == nil && n > 0 {
		return n
	}
	return 50
}

// TestKillBackup kills `mailkeep backup` with SIGKILL at random moments,
// several times per archive, then lets one run finish: every message must
// be archived exactly once and verify must find nothing wrong. The last
// archive then loses its catalog, which is rebuilt from the Maildir tree.
func TestKillBackup(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	msgs := corpus.Generate(corpus.Options{Seed: 5, Count: 300, Big: 3 << 20})
	if err := corpus.Load(t.Context(), srv.Dial(t, "alice"), msgs); err != nil {
		t.Fatal(err)
	}
	full := timeFullRun(t, srv)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	// Two kills per archive: the first anywhere in a full run, the second
	// in what is left, so that runs that crash repeatedly are covered too.
	windows := []int64{int64(full) * 6 / 5, int64(full) * 3 / 5}
	trials, killed := crashTrials(), 0
	var cfg, root string
	for i := 0; i < trials; i += len(windows) {
		cfg, root = writeConfig(t, srv, srv.Password("alice"), "")
		for j := 0; j < len(windows) && i+j < trials; j++ {
			if killAfter(t, cfg, time.Duration(rng.Int64N(windows[j]))) {
				killed++
			}
		}
		finishAndCheck(t, cfg, root, len(msgs))
	}
	t.Logf("%d trials, %d killed mid-run (a full run takes %v)", trials, killed, full)
	if killed < trials/2 {
		t.Errorf("only %d of %d trials killed a running backup", killed, trials)
	}
	rebuildAndCheck(t, cfg, root, len(msgs))
}

func timeFullRun(t *testing.T, srv *dovecottest.Server) time.Duration {
	t.Helper()
	cfg, _ := writeConfig(t, srv, srv.Password("alice"), "")
	start := time.Now()
	if r := mailkeep(t, nil, "backup", "--config", cfg); r.code != exitOK {
		t.Fatalf("calibration run: exit %d: %s", r.code, r.stderr)
	}
	return time.Since(start)
}

// killAfter starts a backup and SIGKILLs it after delay; it reports
// whether the process was still running when killed.
func killAfter(t *testing.T, cfg string, delay time.Duration) bool {
	t.Helper()
	cmd := exec.Command(binary, "backup", "--config", cfg)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return false
	case <-time.After(delay):
		cmd.Process.Kill()
		<-done
		return true
	}
}

func finishAndCheck(t *testing.T, cfg, root string, want int) {
	t.Helper()
	r := mailkeep(t, nil, "backup", "--config", cfg)
	if r.code != exitOK {
		t.Fatalf("run after the kills: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	checkArchive(t, root, want)
}

// checkArchive: one catalog row per server message, and verify is clean.
func checkArchive(t *testing.T, root string, want int) {
	t.Helper()
	a, err := archive.Open(context.Background(), root, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	rep, err := a.Verify(context.Background(), archive.VerifyOptions{})
	if err != nil || rep.Messages != want || len(rep.Problems) > 0 {
		t.Fatalf("archive holds %d messages (want %d), problems %v, err %v", rep.Messages, want, rep.Problems, err)
	}
}

// rebuildAndCheck deletes the catalog, rebuilds it with the CLI, and checks
// that the next backup fetches nothing again.
func rebuildAndCheck(t *testing.T, cfg, root string, want int) {
	t.Helper()
	for _, f := range []string{"catalog.db", "catalog.db-wal", "catalog.db-shm"} {
		os.Remove(filepath.Join(root, "alice", f))
	}
	r := mailkeep(t, nil, "verify", "--config", cfg, "--rebuild-catalog", "alice")
	if r.code != exitOK || !strings.Contains(r.stdout, fmt.Sprintf("%d messages", want)) {
		t.Fatalf("rebuild: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = mailkeep(t, nil, "backup", "--config", cfg)
	if r.code != exitOK || !strings.Contains(r.stdout, " 0 new messages") {
		t.Fatalf("backup after rebuild: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := mailkeep(t, nil, "verify", "--config", cfg); r.code != exitOK || !strings.Contains(r.stdout, "alice: clean") {
		t.Fatalf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	checkArchive(t, root, want)
}
