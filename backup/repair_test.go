package backup_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
)

// TestRepairThenBackup: a damaged file of a folder that never changes on
// the server. verify --repair sets the message aside; until a backup has
// fetched it again, verify does not call the archive clean; the next
// backup, although the server reports the folder unchanged, fetches it.
func TestRepairThenBackup(t *testing.T) {
	ctx := t.Context()
	srv := dovecottest.Start(t, dovecottest.Options{})
	msgs := corpus.Generate(corpus.Options{Seed: 21, Count: 12, Folders: []string{"INBOX"}})
	if err := corpus.Load(ctx, srv.Dial(t, "alice"), msgs); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	dial := dialer(srv, "alice")
	runBackup(t, ctx, root, dial)

	files, _ := filepath.Glob(filepath.Join(root, "alice", "mail", "INBOX", ".mk", "cur", "*"))
	data, _ := os.ReadFile(files[3])
	data[len(data)/2] ^= 0xff
	os.WriteFile(files[3], data, 0o600)

	a, err := archive.OpenWriter(ctx, root, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := a.Verify(ctx, archive.VerifyOptions{Repair: true})
	if err != nil || len(rep.Problems) != 1 || !rep.Problems[0].Repaired {
		t.Fatalf("repair: %+v, %v", rep.Problems, err)
	}
	rep, err = a.Verify(ctx, archive.VerifyOptions{})
	a.Close()
	if err != nil || rep.Unrepaired() != 1 || rep.Problems[0].Kind != archive.ProblemRefetch {
		t.Fatalf("verify before the next backup: %+v, %v; want the message still missing", rep.Problems, err)
	}

	res := runBackup(t, ctx, root, dial)
	if res.Stats.NewMessages != 1 {
		t.Fatalf("backup after the repair: %+v, want the set-aside message fetched again", res.Stats)
	}
	checkCompleteFor(t, root, "alice", len(msgs))
	if res := runBackup(t, ctx, root, dial); res.Stats.NewMessages != 0 {
		t.Fatalf("the run after: %+v", res.Stats)
	}
}

// checkCompleteFor: the archive verifies clean with want messages.
func checkCompleteFor(t *testing.T, root, account string, want int) {
	t.Helper()
	a, err := archive.OpenWriter(t.Context(), root, account, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	rep, err := a.Verify(t.Context(), archive.VerifyOptions{})
	if err != nil || len(rep.Problems) > 0 || rep.Messages != want {
		t.Fatalf("archive: %d messages (want %d), problems %v, err %v", rep.Messages, want, rep.Problems, err)
	}
}
