package agent

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/progress"
)

// archiveJob records one empty run in the account's archive and answers
// with err.
func archiveJob(err error) Job {
	return func(ctx context.Context, root string, a *config.Account, _ *slog.Logger, _ progress.Sink) (backup.Result, error) {
		w, oerr := archive.OpenWriter(ctx, root, a.Name, nil)
		if oerr != nil {
			return backup.Result{}, oerr
		}
		defer w.Close()
		id, _ := w.Catalog.BeginRun(ctx, "imap", time.Now())
		w.Catalog.FinishRun(ctx, id, archive.OutcomeOK, archive.RunStats{}, nil, time.Now())
		return backup.Result{RunID: id, Outcome: archive.OutcomeOK}, err
	}
}

// The agent replicates after a backup that ends ok or partial, never
// after a failed one, and counts each replication in its metrics.
func TestAgentReplicatesAfterBackup(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		replica bool
	}{
		{"ok", nil, true},
		{"partial", backup.ErrPartial, true},
		{"failed", errors.New("login refused"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, copies := t.TempDir(), t.TempDir()
			path := writeConfig(t, dir, "@daily", "", "alice")
			data, _ := os.ReadFile(path)
			data = []byte(strings.Replace(string(data), `schedule: "@daily"}`, `schedule: "@daily", replicate: [{dir: `+copies+`}]}`, 1))
			os.WriteFile(path, data, 0o600)
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			a, err := New(cfg, slog.New(slog.DiscardHandler), Options{Job: archiveJob(tc.err)})
			if err != nil {
				t.Fatal(err)
			}
			a.backup(t.Context(), "alice")
			_, err = os.Stat(filepath.Join(copies, "alice", "MANIFEST"))
			if (err == nil) != tc.replica {
				t.Fatalf("replica manifest: %v, want one: %v", err, tc.replica)
			}
			if got := testutil.ToFloat64(a.metrics.replicas.WithLabelValues("alice", copies, "ok")); got != map[bool]float64{true: 1}[tc.replica] {
				t.Errorf("replicate_runs_total{outcome=ok} = %v", got)
			}
		})
	}
}

func TestReplicaFrom(t *testing.T) {
	a := &config.Account{Name: "alice", Replicate: []config.Replica{{S3: config.S3Replica{Bucket: "mail", Prefix: "work/",
		Endpoint: "http://127.0.0.1:1", AccessKeyFile: "/nonexistent/a", SecretKeyFile: "/nonexistent/s"}}}}
	for from, want := range map[string]string{
		"s3://mail/work":  "access_key_file: open /nonexistent/a", // found: its keys are read
		"s3://mail/work/": "access_key_file: open /nonexistent/a",
		"s3://mail/other": `account "alice" has no replica s3://mail/other/ in the configuration (it has s3://mail/work/)`,
		"/nonexistent":    "replica directory: stat /nonexistent",
	} {
		if _, err := ReplicaFrom(t.Context(), a, from); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", from, err, want)
		}
	}
	a.Replicate = nil
	if _, err := ReplicaFrom(t.Context(), a, "s3://mail/work"); err == nil || !strings.Contains(err.Error(), "has no s3 replica") {
		t.Errorf("no replicas: %v", err)
	}
}
