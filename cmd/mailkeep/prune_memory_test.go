package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/internal/dovecottest"
)

// TestPruneCost prunes a folder of N messages of which a quarter were
// deleted on the server more than a year ago (N = 4,000 in CI;
// MAILKEEP_PRUNE_MESSAGES=20000 for the figure in doc/pending/prune.md),
// with the built binary: the wall time of the dry run and of the prune,
// the bytes freed on disk, and the prune's peak RSS, which must stay
// within the bound of backups.
func TestPruneCost(t *testing.T) {
	n := 4000
	if s := os.Getenv("MAILKEEP_PRUNE_MESSAGES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 4 {
			t.Fatalf("MAILKEEP_PRUNE_MESSAGES=%q: want a number of at least 4", s)
		}
	}
	gone := n / 4
	srv := dovecottest.Start(t, dovecottest.Options{Users: []string{"many"}})
	writeMaildir(t, srv.MailDir("many"), n, smallMessage)
	cfg, root := writeMemoryConfig(t, srv, "many")
	data, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(data, "    retention:\n      gone_after: 365d\n      runs: 1\n"...), 0o600)
	backupOK := func() {
		t.Helper()
		if r := mailkeep(t, nil, "backup", "--config", cfg, "--no-progress"); r.code != exitOK {
			t.Fatalf("backup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	}
	backupOK()
	removeFiles(t, filepath.Join(srv.MailDir("many"), "cur"), gone)
	backupOK()
	backdate(t, filepath.Join(root, "catalog.db"), map[int64]int{1: 500, 2: 400})
	before := diskUsage(t, root)

	start := time.Now()
	r := mailkeep(t, nil, "prune", "--config", cfg, "--dry-run", "--json")
	dry := time.Since(start)
	var plan pruneReport
	if err := json.Unmarshal([]byte(r.stdout), &plan); err != nil || plan.Messages != gone {
		t.Fatalf("dry run: %v\n%s%s", err, r.stdout, r.stderr)
	}
	start = time.Now()
	rss, floor, out := runPeakRSS(t, "prune", "--config", cfg, "--json")
	wall := time.Since(start)
	var done pruneReport
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &done); err != nil || done.Messages != gone {
		t.Fatalf("prune: %v\n%s", err, out)
	}
	after := diskUsage(t, root)
	t.Logf("prune: messages=%d gone=%d dry_run_wall=%.2fs wall=%.2fs in_process=%.2fs message_bytes=%d disk_bytes=%d "+
		"du_freed_kib=%d peak_rss_kib=%d floor_kib=%d", n, gone, dry.Seconds(), wall.Seconds(), done.Duration,
		done.Bytes, done.DiskBytes, (before-after)>>10, rss>>10, floor>>10)
	if rss > rssBound {
		t.Errorf("peak RSS %.1f MiB, above the bound of %d MiB", float64(rss)/(1<<20), rssBound>>20)
	}
	if r := mailkeep(t, nil, "verify", "--config", cfg); r.code != exitOK || !strings.Contains(r.stdout, fmt.Sprintf("%d messages", n-gone)) {
		t.Fatalf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// diskUsage is the space the files under dir take, in bytes (st_blocks).
func diskUsage(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if st, ok := fi.Sys().(*syscall.Stat_t); err == nil && ok {
			n += st.Blocks * 512
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
