package restore_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/internal/corpus"
)

// TestRestoreCatalogRules checks the catalog queries a restore relies on,
// on a POP3 archive: presence at a run, flags at a run, and messages that
// POP3 delete mode removed from the server, which stay restorable.
func TestRestoreCatalogRules(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	writePOP3Archive(t, root, "pop", corpus.Generate(corpus.Options{Seed: 28, Count: 3, Folders: []string{"INBOX"}})[:5])
	a, err := archive.OpenWriter(ctx, root, "pop", nil)
	if err != nil {
		t.Fatal(err)
	}
	folders, _ := a.Catalog.Folders(ctx)
	msgs, _ := a.Catalog.FolderMessages(ctx, folders[0].ID)
	keys := []string{msgs[0].Key, msgs[1].Key}
	run2, _ := a.Catalog.BeginRun(ctx, "pop3", time.Now())
	must(t, a.Catalog.MarkServerDeleted(ctx, folders[0].ID, keys, run2)) // mailkeep deleted 0 and 1
	must(t, a.Catalog.UpdateFlags(ctx, []archive.FlagUpdate{{ID: msgs[3].ID, Flags: []string{`\Seen`}, File: msgs[3].File}}, run2))
	must(t, a.Catalog.FinishRun(ctx, run2, archive.OutcomeOK, archive.RunStats{}, nil, time.Now()))
	run3, _ := a.Catalog.BeginRun(ctx, "pop3", time.Now())
	must(t, a.Catalog.MarkGone(ctx, []int64{msgs[0].ID, msgs[1].ID, msgs[2].ID}, run3)) // the user deleted 2
	must(t, a.Catalog.FinishRun(ctx, run3, archive.OutcomeOK, archive.RunStats{}, nil, time.Now()))
	a.Close()

	cat, err := archive.OpenSnapshot(ctx, root, "pop")
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	for _, tc := range []struct {
		run       int64
		want      []int // indices of msgs
		seenFlags bool  // msgs[3] has \Seen
	}{
		{0, []int{0, 1, 3, 4}, true},
		{1, []int{0, 1, 2, 3, 4}, false},
		{run2, []int{0, 1, 2, 3, 4}, true},
		{run3, []int{0, 1, 3, 4}, true},
	} {
		got, err := cat.Messages(ctx, folders[0].ID, archive.View{Run: tc.run})
		if err != nil {
			t.Fatal(err)
		}
		var ids []int
		for _, m := range got {
			i := slices.IndexFunc(msgs, func(x archive.Message) bool { return x.ID == m.ID })
			ids = append(ids, i)
			if i == 3 && slices.Contains(m.Flags, `\Seen`) != tc.seenFlags {
				t.Errorf("run %d: message 3 has flags %q", tc.run, m.Flags)
			}
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("run %d: messages %v, want %v", tc.run, ids, tc.want)
		}
		fs, err := cat.Folders(ctx, archive.View{Run: tc.run})
		if err != nil || len(fs) != 1 || fs[0].Count != len(tc.want) {
			t.Errorf("run %d: folders %+v, %v; want INBOX with %d messages", tc.run, fs, err, len(tc.want))
		}
	}
	runs, _ := cat.Runs(ctx)
	if r, err := cat.Resolve(ctx, archive.AsOf{Time: runs[0].Started}); err != nil || r.ID != run3 {
		t.Errorf("as of the start of run 3: run %d, %v", r.ID, err)
	}
	if _, err := cat.Resolve(ctx, archive.AsOf{Time: runs[len(runs)-1].Started.Add(-time.Nanosecond)}); !errors.Is(err, archive.ErrNoRun) {
		t.Errorf("as of before the first run: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
