package archive

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var pruneNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

func TestCutoffRun(t *testing.T) {
	runs := []runInfo{{id: 3, started: pruneNow.Add(-days(400))}, {id: 4, started: pruneNow.Add(-days(30))},
		{id: 7, started: pruneNow.Add(-days(40))}, {id: 9, started: pruneNow.Add(-days(1))}}
	for _, tc := range []struct {
		age  time.Duration
		want int64
	}{
		{days(500), 0}, {days(400), 3}, {days(365), 3}, {days(35), 3}, {days(30), 7}, {days(20), 7}, {0, 9},
	} {
		// Run 7 started before run 4 (a clock set back): it does not count
		// as old before run 4 does (35 days).
		if got := cutoffRun(runs, pruneNow.Add(-tc.age)); got != tc.want {
			t.Errorf("cutoff %v ago: run %d, want %d", tc.age, got, tc.want)
		}
	}
}

func TestKeepFrom(t *testing.T) {
	runs := []runInfo{{id: 1, kind: "imap", outcome: OutcomeOK}, {id: 2, kind: "imap", outcome: OutcomeFailed},
		{id: 3, kind: "rebuild", outcome: OutcomeOK}, {id: 4, kind: "imap", outcome: OutcomePartial},
		{id: 5, kind: "imap", outcome: OutcomeInterrupted}, {id: 6, kind: "pop3", outcome: OutcomeOK}}
	for n, want := range []int64{0, 6, 4, 1, 0} {
		if got := keepFrom(runs, n); got != want {
			t.Errorf("keep %d runs: from run %d, want %d", n, got, want)
		}
	}
}

// pruneFixture is an archive with a history: what went when is known.
type pruneFixture struct {
	a                        *Writer
	root                     string
	runs                     []int64
	inbox, old, pop, revived FolderState
}

// newPruneFixture builds, with runs that started 500, 400, 10 and 1 days
// before pruneNow:
//
//	run 1: INBOX 1–6, Old 1–3, POP 1–3, Revived 1–2 stored
//	run 2: INBOX 2 and 3 gone, Old gone (with its messages), POP 1 and 2
//	       deleted from the server by POP3 and gone, Revived gone, INBOX 2
//	       and 4 change flags
//	run 3: INBOX 4 gone; Revived listed again, its message 1 seen again
//	run 4: nothing changes
func newPruneFixture(t *testing.T) *pruneFixture {
	t.Helper()
	ctx := context.Background()
	fx := &pruneFixture{root: t.TempDir()}
	a, err := OpenWriter(ctx, fx.root, "acct", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	fx.a = a
	sp, _ := NewSpool("")
	folder := func(name string, run int64, n int) FolderState {
		f, _ := a.Folder(name, '/')
		st, _ := a.Catalog.EnsureFolder(ctx, f, run)
		storeRange(t, a, f, sp, st.ID, run, 1, n)
		return st
	}
	run := fx.begin(t, 500)
	fx.inbox, fx.old, fx.pop, fx.revived = folder("INBOX", run, 6), folder("Old", run, 3), folder("POP", run, 3), folder("Revived", run, 2)
	fx.finish(t, run)

	run = fx.begin(t, 400)
	must(t, a.Catalog.MarkGoneUIDs(ctx, fx.inbox.ID, 7, []uint32{2, 3}, run))
	_, err = a.Catalog.MarkFolderGone(ctx, fx.old.ID, run)
	must(t, err)
	must(t, a.Catalog.MarkServerDeleted(ctx, fx.pop.ID, []string{IMAPKey(7, 1), IMAPKey(7, 2)}, run))
	must(t, a.Catalog.MarkGoneUIDs(ctx, fx.pop.ID, 7, []uint32{1, 2}, run))
	_, err = a.Catalog.MarkFolderGone(ctx, fx.revived.ID, run)
	must(t, err)
	rows, _ := a.Catalog.FolderMessages(ctx, fx.inbox.ID)
	must(t, a.Catalog.UpdateFlags(ctx, []FlagUpdate{{ID: rows[1].ID, Flags: []string{`\Flagged`}, File: rows[1].File},
		{ID: rows[3].ID, Flags: []string{`\Answered`}, File: rows[3].File}}, run))
	fx.finish(t, run)

	run = fx.begin(t, 10)
	must(t, a.Catalog.MarkGoneUIDs(ctx, fx.inbox.ID, 7, []uint32{4}, run))
	f, _ := a.Folder("Revived", '/')
	_, err = a.Catalog.EnsureFolder(ctx, f, run)
	must(t, err)
	rev, _ := a.Catalog.FolderMessages(ctx, fx.revived.ID)
	must(t, a.Catalog.MarkPresent(ctx, []int64{rev[0].ID}, run))
	fx.finish(t, run)

	fx.finish(t, fx.begin(t, 1))
	return fx
}

func (fx *pruneFixture) begin(t *testing.T, daysAgo int) int64 {
	t.Helper()
	id, err := fx.a.Catalog.BeginRun(context.Background(), "imap", pruneNow.Add(-days(daysAgo)))
	must(t, err)
	fx.runs = append(fx.runs, id)
	return id
}

func (fx *pruneFixture) finish(t *testing.T, run int64) {
	t.Helper()
	must(t, fx.a.Catalog.FinishRun(context.Background(), run, OutcomeOK, RunStats{}, nil, time.Now()))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// keys lists a folder's catalog keys by UID ("INBOX:1").
func (fx *pruneFixture) keys(t *testing.T) []string {
	t.Helper()
	var out []string
	folders, err := fx.a.Catalog.Folders(context.Background())
	must(t, err)
	for _, f := range folders {
		rows, err := fx.a.Catalog.FolderMessages(context.Background(), f.ID)
		must(t, err)
		for _, m := range rows {
			out = append(out, fmt.Sprintf("%s:%d", f.Name, m.UID))
		}
	}
	slices.Sort(out)
	return out
}

// planned lists what a plan takes, as "folder:uid" and "folder/" for a
// whole folder.
func planned(t *testing.T, fx *pruneFixture, ret Retention) ([]string, PruneResult) {
	t.Helper()
	ctx := context.Background()
	p, err := planPrune(ctx, fx.a.Catalog.db, ret, pruneNow)
	must(t, err)
	var out []string
	for _, v := range p.victims {
		mf, _ := ParseMessageFile(v.file)
		_, uid, _ := ParseIMAPKey(mf.Key)
		out = append(out, fmt.Sprintf("%s:%d", v.folder, uid))
	}
	for _, f := range p.whole {
		out = append(out, f.Name+"/")
	}
	slices.Sort(out)
	return out, p.res
}

func TestPruneSelection(t *testing.T) {
	fx := newPruneFixture(t)
	tests := []struct {
		name string
		ret  Retention
		want []string
	}{
		{"nothing", Retention{}, nil},
		{"gone a year", Retention{GoneAfter: days(365)}, []string{"INBOX:2", "INBOX:3", "Old:1", "Old:2", "Old:3", "Revived:2"}},
		{"gone a week", Retention{GoneAfter: days(7)}, []string{"INBOX:2", "INBOX:3", "INBOX:4", "Old:1", "Old:2", "Old:3", "Revived:2"}},
		{"gone longer than any run", Retention{GoneAfter: days(600)}, nil},
		{"folders gone 90 days", Retention{FoldersGoneAfter: days(90)}, []string{"Old/", "Old:1", "Old:2", "Old:3"}},
		{"POP3 deleted a year", Retention{ServerDeletedAfter: days(365)}, []string{"POP:1", "POP:2"}},
		{"all", Retention{GoneAfter: days(365), FoldersGoneAfter: days(90), ServerDeletedAfter: days(30)},
			[]string{"INBOX:2", "INBOX:3", "Old/", "Old:1", "Old:2", "Old:3", "POP:1", "POP:2", "Revived:2"}},
		{"runs only", Retention{Runs: 2}, nil},
	}
	for _, tc := range tests {
		got, res := planned(t, fx, tc.ret)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: takes %v, want %v", tc.name, got, tc.want)
		}
		if res.Messages != len(tc.want)-res.FoldersRemoved {
			t.Errorf("%s: counts %d messages", tc.name, res.Messages)
		}
	}
	if _, res := planned(t, fx, Retention{Runs: 2}); res.RunsMerged != 2 || res.OldestRun != fx.runs[2] {
		t.Errorf("runs 2: %d merged, oldest kept %d; want 2 and run %d", res.RunsMerged, res.OldestRun, fx.runs[2])
	}
	if _, res := planned(t, fx, Retention{Runs: 5}); res.RunsMerged != 0 {
		t.Errorf("runs 5 of 4: %d merged", res.RunsMerged)
	}
	_, res := planned(t, fx, Retention{FoldersGoneAfter: days(90)})
	if f := res.Folders[0]; !f.Whole || f.Name != "Old" || !f.GoneSince.Equal(pruneNow.Add(-days(400))) || f.Bytes == 0 ||
		!f.Oldest.Equal(f.Newest) || f.Oldest.IsZero() {
		t.Errorf("whole folder: %+v", f)
	}
}

// TestPrune prunes for real: rows, files and the folder go, history
// merges, the archive verifies clean, and the record says what went.
func TestPrune(t *testing.T) {
	ctx := context.Background()
	fx := newPruneFixture(t)
	snap, err := OpenSnapshot(ctx, fx.root, "acct")
	must(t, err)
	defer snap.Close()
	ret := Retention{GoneAfter: days(365), FoldersGoneAfter: days(90), Runs: 2}
	plan, err := snap.PlanPrune(ctx, PruneOptions{Retention: ret, Now: pruneNow})
	must(t, err)
	before := fx.keys(t)
	files := treeFiles(t, fx.a.Dir)
	res, err := fx.a.Prune(ctx, PruneOptions{Retention: ret, Now: pruneNow})
	must(t, err)
	if res.Messages != 6 || res.FoldersRemoved != 1 || res.RunsMerged != 2 || res.DiskBytes != plan.DiskBytes ||
		res.Bytes != plan.Bytes || res.ID == 0 || plan.DiskBytes == 0 {
		t.Errorf("prune %+v\nplan %+v", res, plan)
	}
	want := slices.DeleteFunc(before, func(k string) bool {
		return slices.Contains([]string{"INBOX:2", "INBOX:3", "Old:1", "Old:2", "Old:3", "Revived:2"}, k)
	})
	if got := fx.keys(t); !slices.Equal(got, want) {
		t.Errorf("after the prune: %v, want %v", got, want)
	}
	if _, err := os.Stat(filepath.Join(fx.a.MailDir(), "Old")); !os.IsNotExist(err) {
		t.Errorf("the pruned folder's directory: %v", err)
	}
	if gone := len(files) - len(treeFiles(t, fx.a.Dir)); gone < 6 {
		t.Errorf("%d files fewer on disk", gone)
	}
	rep, err := fx.a.Verify(ctx, VerifyOptions{})
	if err != nil || len(rep.Problems) > 0 || rep.Messages != len(want) {
		t.Fatalf("verify after the prune: %+v, %v", rep, err)
	}
	recs, err := fx.a.Catalog.Prunes(ctx, -1)
	if err != nil || len(recs) != 1 || recs[0].Outcome != OutcomeOK || recs[0].Messages != 6 || recs[0].OldestRun != fx.runs[2] {
		t.Errorf("prune records %+v, %v", recs, err)
	}
	runs, _ := fx.a.Catalog.Runs(ctx, -1)
	if len(runs) != 2 || runs[1].ID != fx.runs[2] {
		t.Errorf("runs after merging: %+v", runs)
	}
	// Nothing more to do: a second prune records nothing.
	if res, err := fx.a.Prune(ctx, PruneOptions{Retention: ret, Now: pruneNow}); err != nil || !res.Empty() || res.ID != 0 {
		t.Errorf("second prune: %+v, %v", res, err)
	}
}

// treeFiles lists the regular files under dir.
func treeFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return err
	})
	return out
}

// TestMergedHistory: views as of the runs kept answer as before the merge,
// with the flags of then; runs merged away are refused by name and by time.
func TestMergedHistory(t *testing.T) {
	ctx := context.Background()
	fx := newPruneFixture(t)
	snap, err := OpenSnapshot(ctx, fx.root, "acct")
	must(t, err)
	defer snap.Close()
	view := func(run int64) string {
		folders, err := snap.Folders(ctx, View{Run: run})
		must(t, err)
		var b strings.Builder
		for _, f := range folders {
			msgs, err := snap.Messages(ctx, f.ID, View{Run: run})
			must(t, err)
			for _, m := range msgs {
				fmt.Fprintf(&b, "%s:%d%v ", f.Name, m.UID, m.Flags)
			}
		}
		return b.String()
	}
	kept := map[int64]string{fx.runs[2]: view(fx.runs[2]), fx.runs[3]: view(fx.runs[3])}
	if _, err := fx.a.Prune(ctx, PruneOptions{Retention: Retention{Runs: 2}, Now: pruneNow}); err != nil {
		t.Fatal(err)
	}
	for run, want := range kept {
		if got := view(run); got != want {
			t.Errorf("as of run %d after merging:\n%s\nwant\n%s", run, got, want)
		}
	}
	_, err = snap.Resolve(ctx, AsOf{Run: fx.runs[0]})
	if !errors.Is(err, ErrRunPruned) || !errors.Is(err, ErrNoRun) ||
		err.Error() != fmt.Sprintf("run %d was pruned; the oldest kept is %d", fx.runs[0], fx.runs[2]) {
		t.Errorf("as of a merged run: %v", err)
	}
	_, err = snap.Resolve(ctx, AsOf{Time: pruneNow.Add(-days(100))})
	if !errors.Is(err, ErrRunPruned) || !strings.Contains(err.Error(), fmt.Sprintf("the oldest kept is run %d", fx.runs[2])) {
		t.Errorf("as of a merged time: %v", err)
	}
	if r, err := snap.Resolve(ctx, AsOf{Time: pruneNow.Add(-days(5))}); err != nil || r.ID != fx.runs[2] {
		t.Errorf("as of a kept time: %+v, %v", r, err)
	}
	if _, err := snap.Resolve(ctx, AsOf{Run: 99}); errors.Is(err, ErrRunPruned) || !errors.Is(err, ErrNoRun) {
		t.Errorf("as of a run that never was: %v", err)
	}
	var n int
	fx.a.Catalog.db.QueryRow(`SELECT COUNT(*) FROM flag_history WHERE run < ?`, fx.runs[2]).Scan(&n)
	var msgs int
	fx.a.Catalog.db.QueryRow(`SELECT COUNT(*) FROM messages`).Scan(&msgs)
	if n != msgs {
		t.Errorf("%d flag_history rows before the oldest run kept, want one per message (%d)", n, msgs)
	}
}

// TestMergeKeepsOrphanScan: a folder whose last clean sync is older than
// the runs kept, with an interrupted run between, is still scanned for
// orphans once that run's record is merged away.
func TestMergeKeepsOrphanScan(t *testing.T) {
	ctx := context.Background()
	fx := newPruneFixture(t)
	must(t, fx.a.Catalog.SetFolderState(ctx, fx.inbox, fx.runs[0]))
	must(t, fx.a.Catalog.SetFolderState(ctx, fx.pop, fx.runs[3]))
	_, err := fx.a.Catalog.db.Exec(`UPDATE runs SET outcome = ? WHERE id = ?`, OutcomeInterrupted, fx.runs[1])
	must(t, err)
	if _, err := fx.a.Prune(ctx, PruneOptions{Retention: Retention{Runs: 1}, Now: pruneNow}); err != nil {
		t.Fatal(err)
	}
	next, _ := fx.a.Catalog.BeginRun(ctx, "imap", pruneNow)
	if may, _ := fx.a.Catalog.MayHaveOrphans(ctx, fx.inbox.ID, next); !may {
		t.Error("INBOX: its clean run and the interrupted run after it were merged away, and it is not scanned")
	}
	if may, _ := fx.a.Catalog.MayHaveOrphans(ctx, fx.pop.ID, next); may {
		t.Error("POP: synced cleanly after everything, and scanned")
	}
}

// TestPOP3RetrievedAfterMerge: a message retrieved in a run that merged
// away counts as retrieved when the oldest run kept started.
func TestPOP3RetrievedAfterMerge(t *testing.T) {
	ctx := context.Background()
	fx := newPruneFixture(t)
	if _, err := fx.a.Prune(ctx, PruneOptions{Retention: Retention{Runs: 2}, Now: pruneNow}); err != nil {
		t.Fatal(err)
	}
	rows, err := fx.a.Catalog.POP3Messages(ctx, fx.pop.ID)
	must(t, err)
	for _, m := range rows {
		if !m.Retrieved.Equal(pruneNow.Add(-days(10))) {
			t.Errorf("%s retrieved %v, want the start of run %d", m.Key, m.Retrieved, fx.runs[2])
		}
	}
}

// crashAfterIntent does a prune's first transaction only, as a prune
// killed right after it leaves the catalog.
func crashAfterIntent(t *testing.T, fx *pruneFixture, ret Retention) prunePlan {
	t.Helper()
	ctx := context.Background()
	var plan prunePlan
	err := fx.a.Catalog.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if plan, err = planPrune(ctx, tx, ret, pruneNow); err != nil {
			return err
		}
		return recordPrune(ctx, tx, &plan, pruneNow)
	})
	must(t, err)
	return plan
}

// TestInterruptedPrune: what a prune killed after its first transaction
// leaves is reported by verify, never adopted, deleted by verify --repair
// or the next prune, and readers holding its rows are told it was pruned.
func TestInterruptedPrune(t *testing.T) {
	ctx := context.Background()
	ret := Retention{GoneAfter: days(365), FoldersGoneAfter: days(90)}
	for _, finish := range []string{"verify --repair", "prune", "resume"} {
		t.Run(finish, func(t *testing.T) {
			fx := newPruneFixture(t)
			snap, err := OpenSnapshot(ctx, fx.root, "acct")
			must(t, err)
			defer snap.Close()
			held, _ := snap.Messages(ctx, fx.inbox.ID, View{Gone: GoneToo})
			inbox, err := snap.Folder(fx.inbox)
			must(t, err)
			open, err := inbox.OpenMessage(held[1]) // INBOX:2, opened before the prune
			must(t, err)

			crashAfterIntent(t, fx, ret)
			// Half the files went before the crash.
			must(t, os.Remove(filepath.Join(inbox.Dir, "cur", held[1].File)))
			rep, err := fx.a.Verify(ctx, VerifyOptions{})
			must(t, err)
			if got := kinds(rep); len(got) != 6 || slices.ContainsFunc(got, func(k string) bool { return k != ProblemPruned }) {
				t.Fatalf("verify after the crash: %v", rep.Problems)
			}
			// A reader: the file still on disk reads, the one gone says why;
			// the stream it had open reads to its end.
			if _, err := inbox.OpenMessage(held[1]); !errors.Is(err, ErrPruned) {
				t.Errorf("a message whose file the prune removed: %v, want ErrPruned", err)
			}
			readAll(t, inbox, held[2])
			if data, err := io.ReadAll(open); err != nil || int64(len(data)) != held[1].Size {
				t.Errorf("the stream opened before the prune: %d bytes, %v", len(data), err)
			}
			open.Close()
			folders, _ := snap.Folders(ctx, View{Gone: GoneToo})
			for _, f := range folders {
				if f.Name == "Old" {
					t.Error("the read view still lists the pruned folder")
				}
			}

			switch finish {
			case "verify --repair":
				rep, err = fx.a.Verify(ctx, VerifyOptions{Repair: true})
				if err != nil || rep.Unrepaired() != 0 || len(rep.Problems) != 6 {
					t.Fatalf("verify --repair: %v, %v", rep.Problems, err)
				}
			case "prune":
				res, err := fx.a.Prune(ctx, PruneOptions{Retention: ret, Now: pruneNow})
				if err != nil || res.Leftovers != 6 || res.Messages != 0 {
					t.Fatalf("the next prune: %+v, %v", res, err)
				}
			case "resume":
				res, err := fx.a.ResumePrune(ctx)
				if err != nil || res.Leftovers != 6 {
					t.Fatalf("resume: %+v, %v", res, err)
				}
			}
			if rep, err := fx.a.Verify(ctx, VerifyOptions{}); err != nil || len(rep.Problems) != 0 {
				t.Fatalf("verify after %s: %v, %v", finish, rep.Problems, err)
			}
			if _, err := inbox.OpenMessage(held[2]); !errors.Is(err, ErrPruned) {
				t.Errorf("after %s: %v, want ErrPruned", finish, err)
			}
			old, _ := snap.cat.prunedBy(ctx, fx.old.ID, "", nil)
			if _, err := snap.Folder(fx.old); !errors.Is(err, ErrPruned) || old == 0 {
				t.Errorf("the pruned folder: %v", err)
			}
			recs, _ := fx.a.Catalog.Prunes(ctx, -1)
			if recs[len(recs)-1].Outcome != OutcomeInterrupted {
				t.Errorf("the interrupted prune's record: %+v", recs)
			}
		})
	}
}

// TestRebuildAfterInterruptedPrune: rebuilding the catalog first deletes
// what an interrupted prune left, so it does not come back as mail.
func TestRebuildAfterInterruptedPrune(t *testing.T) {
	ctx := context.Background()
	fx := newPruneFixture(t)
	crashAfterIntent(t, fx, Retention{GoneAfter: days(365), FoldersGoneAfter: days(90)})
	rep, err := fx.a.RebuildCatalog(ctx, pruneNow)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("rebuild: %+v, %v", rep, err)
	}
	if got := fx.keys(t); slices.Contains(got, "INBOX:2") || slices.Contains(got, "Old:1") || len(got) != 8 {
		t.Errorf("rebuilt catalog: %v", got)
	}
}

// TestPruneOldSchemaReader: a read-only catalog of the schema before the
// prune tables plans a prune and reads as before.
func TestPruneOldSchemaReader(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	copyTree(t, "testdata/format1-schema2", root)
	snap, err := OpenSnapshot(ctx, root, "sample")
	must(t, err)
	defer snap.Close()
	if _, err := snap.PlanPrune(ctx, PruneOptions{Retention: Retention{GoneAfter: time.Hour, Runs: 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := snap.Resolve(ctx, AsOf{Run: 1}); err != nil {
		t.Fatal(err)
	}
}

// TestPruneDropsStaged: a folder that a prune takes goes with the staged
// rows a crash left for it (an encrypted archive's; see Writer.Publish).
func TestPruneDropsStaged(t *testing.T) {
	ctx := context.Background()
	fx := newPruneFixture(t)
	rows, _ := fx.a.Catalog.FolderMessages(ctx, fx.old.ID)
	m := rows[0]
	m.Key, m.FileSHA256 = IMAPKey(7, 99), [32]byte{1}
	must(t, fx.a.Catalog.stage(ctx, []Message{m}))
	res, err := fx.a.Prune(ctx, PruneOptions{Retention: Retention{FoldersGoneAfter: days(90)}, Now: pruneNow})
	if err != nil || res.FoldersRemoved != 1 {
		t.Fatalf("prune: %+v, %v", res, err)
	}
	if staged, err := fx.a.Catalog.staged(ctx, fx.old.ID); err != nil || len(staged) != 0 {
		t.Errorf("staged rows of the pruned folder: %v, %v", staged, err)
	}
}
