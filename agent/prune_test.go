package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/internal/logtest"
	"github.com/mailkeep/mailkeep/schedule"
)

// fakePrune counts its calls by account and answers with err.
type fakePrune struct {
	mu    sync.Mutex
	calls map[string]int
	err   error
}

func (f *fakePrune) run(_ context.Context, _ string, a *config.Account, _ *slog.Logger) (archive.PruneResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[a.Name]++
	if f.err != nil {
		return archive.PruneResult{}, f.err
	}
	return archive.PruneResult{ID: 1, Messages: 3, Bytes: 300}, nil
}

func (f *fakePrune) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[name]
}

// retentionConfig has accounts keep (with retention) and all (without).
func retentionConfig(t *testing.T) *config.Config {
	t.Helper()
	dir := t.TempDir()
	text := fmt.Sprintf(`archive: %s
accounts:
  - {name: keep, protocol: imap, host: 127.0.0.1, port: 1, tls: none, username: u, password_env: NOPE,
     schedule: "@every 1s", retention: {gone_after: 30d, runs: 5}}
  - {name: all, protocol: imap, host: 127.0.0.1, port: 1, tls: none, username: u, password_env: NOPE, schedule: "@every 1s"}
agent:
  stop_timeout: 5s
`, filepath.Join(dir, "archive"))
	path := filepath.Join(dir, "mailkeep.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return load(t, path)
}

// TestAgentPrunesAfterOKBackups: a backup that ends ok is followed by a
// prune of an account with retention; a partial or failed one, or an
// account without retention, is not. What the prune took is counted, and
// a failed prune is an error of the account that leaves the backup alone.
func TestAgentPrunesAfterOKBackups(t *testing.T) {
	tests := []struct {
		name      string
		outcome   string
		err       error
		pruneErr  error
		wantPrune bool
	}{
		{"ok", archive.OutcomeOK, nil, nil, true},
		{"partial", archive.OutcomePartial, fmt.Errorf("%w: 1 failures", backup.ErrPartial), nil, false},
		{"failed", archive.OutcomeFailed, errors.New("login refused"), nil, false},
		{"prune fails", archive.OutcomeOK, nil, errors.New("disk on fire"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			job := &fakeJob{result: func(string, int) (backup.Result, error) {
				return backup.Result{RunID: 1, Outcome: tc.outcome}, tc.err
			}}
			pr := &fakePrune{err: tc.pruneErr}
			r := &running{log: &logtest.Buffer{}, hup: make(chan os.Signal, 1), done: make(chan error, 1)}
			a, err := New(retentionConfig(t), slog.New(slog.NewTextHandler(r.log, nil)), Options{Version: "test",
				Job: job.run, Prune: pr.run,
				Schedule: schedule.Options{Retry: schedule.Retry{Base: time.Hour, Max: time.Hour}}})
			if err != nil {
				t.Fatal(err)
			}
			r.a = a
			ctx, cancel := context.WithCancel(context.Background())
			r.cancel = cancel
			go func() { r.done <- a.Run(ctx, r.hup) }()
			t.Cleanup(func() { r.stop(t) })
			waitFor(t, "a run of each account", func() bool { return job.count("keep") >= 1 && job.count("all") >= 1 })
			if tc.wantPrune {
				// A stop between the backup and its prune leaves the prune out.
				waitFor(t, "a prune", func() bool { return pr.count("keep") >= 1 })
			}
			r.stop(t)
			if got := pr.count("all"); got != 0 {
				t.Errorf("the account without retention was pruned %d times", got)
			}
			got := pr.count("keep")
			if (got > 0) != tc.wantPrune || got > job.count("keep") {
				t.Fatalf("%d prunes after %d backups, want prunes %v\n%s", got, job.count("keep"), tc.wantPrune, r.log)
			}
			m := a.metrics
			msgs, bytes := testutil.ToFloat64(m.pruned.WithLabelValues("keep")), testutil.ToFloat64(m.prunedBytes.WithLabelValues("keep"))
			errs := testutil.ToFloat64(m.errors.WithLabelValues("keep"))
			switch {
			case tc.pruneErr != nil:
				if errs != float64(got) || msgs != 0 || logCount(r.log, "prune failed") != got {
					t.Errorf("failed prunes: errors_total %v, pruned %v\n%s", errs, msgs, r.log)
				}
			case tc.wantPrune:
				if msgs != 3*float64(got) || bytes != 300*float64(got) || logCount(r.log, "prune finished") != got {
					t.Errorf("pruned_messages_total %v, pruned_bytes_total %v after %d prunes\n%s", msgs, bytes, got, r.log)
				}
			}
		})
	}
}

// TestPruneJob: the job leaves an account without retention alone and
// creates no archive for an account that has none.
func TestPruneJob(t *testing.T) {
	ctx := context.Background()
	cfg := retentionConfig(t)
	keep, _ := cfg.Account("keep")
	all, _ := cfg.Account("all")
	if res, err := Prune(ctx, cfg.Archive, all, slog.New(slog.DiscardHandler)); err != nil || !res.Empty() {
		t.Errorf("without retention: %+v, %v", res, err)
	}
	if _, err := Prune(ctx, cfg.Archive, keep, slog.New(slog.DiscardHandler)); !errors.Is(err, archive.ErrNoArchive) {
		t.Errorf("without an archive: %v, want ErrNoArchive", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.Archive, "keep")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the prune created an archive: %v", err)
	}
	if r := Retention(keep); r.GoneAfter != 30*24*time.Hour || r.Runs != 5 || r.FoldersGoneAfter != 0 {
		t.Errorf("retention %+v", r)
	}
}
