package archive

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMayHaveOrphans(t *testing.T) {
	// Each case runs a sequence of earlier runs: "sync" ends ok after the
	// folder's state is saved, any other word is the outcome of a run that
	// did not sync the folder to the end ("running" is a crash).
	cases := []struct {
		runs []string
		want bool
	}{
		{nil, true},
		{[]string{OutcomeFailed}, true},
		{[]string{"sync"}, false},
		{[]string{"sync", OutcomeOK, OutcomePartial}, false},
		{[]string{"sync", OutcomeFailed}, true},
		{[]string{"sync", OutcomeInterrupted}, true},
		{[]string{"sync", OutcomeRunning}, true},
		{[]string{OutcomeRunning, "sync"}, false},
		{[]string{"sync", OutcomeFailed, "sync"}, false},
	}
	for _, tc := range cases {
		ctx := context.Background()
		a, err := OpenWriter(ctx, t.TempDir(), "acct", nil)
		if err != nil {
			t.Fatal(err)
		}
		f, _ := a.Folder("INBOX", '/')
		st, err := a.Catalog.EnsureFolder(ctx, f, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range tc.runs {
			run, _ := a.Catalog.BeginRun(ctx, "imap", time.Now())
			switch r {
			case "sync":
				a.Catalog.SetFolderState(ctx, st, run)
				a.Catalog.FinishRun(ctx, run, OutcomeOK, RunStats{}, nil, time.Now())
			case OutcomeRunning:
			default:
				a.Catalog.FinishRun(ctx, run, r, RunStats{}, nil, time.Now())
			}
		}
		now, _ := a.Catalog.BeginRun(ctx, "imap", time.Now())
		got, err := a.Catalog.MayHaveOrphans(ctx, st.ID, now)
		if err != nil || got != tc.want {
			t.Errorf("runs %v: MayHaveOrphans = %v, %v; want %v", tc.runs, got, err, tc.want)
		}
		a.Close()
	}
}

// TestMigrateFromSchema1 opens a catalog of the first schema: it gains the
// folders' clean run, and every folder is scanned for orphans once.
func TestMigrateFromSchema1(t *testing.T) {
	a := buildArchive(t, 3)
	ctx := context.Background()
	folders, _ := a.Catalog.Folders(ctx)
	for _, f := range folders {
		a.Catalog.SetFolderState(ctx, f, 1)
	}
	a = reopenDowngraded(t, a, `DROP INDEX messages_uidl`, `DROP INDEX messages_deleted`, `DROP INDEX messages_gone`,
		undoContentColumns, `ALTER TABLE folders DROP COLUMN clean_run`, `DROP TABLE refetch`,
		`DROP TABLE pruned`, `DROP TABLE prunes`, `ALTER TABLE folders DROP COLUMN special_use`, `DROP TABLE account_meta`,
		`ALTER TABLE messages DROP COLUMN file_sha256`, `DROP TABLE staged`, `PRAGMA user_version = 1`)
	defer a.Close()
	run, _ := a.Catalog.BeginRun(ctx, "imap", time.Now())
	for _, f := range folders {
		if may, err := a.Catalog.MayHaveOrphans(ctx, f.ID, run); err != nil || !may {
			t.Errorf("%s after migration: MayHaveOrphans = %v, %v; want true", f.Name, may, err)
		}
	}
	var v int
	a.Catalog.db.QueryRow(`PRAGMA user_version`).Scan(&v)
	if v != schemaVersion {
		t.Errorf("user_version %d, want %d", v, schemaVersion)
	}
	if _, err := a.Catalog.Refetches(ctx, folders[0].ID); err != nil {
		t.Errorf("the refetch table after migration: %v", err)
	}
	if _, err := a.Catalog.Prunes(ctx, -1); err != nil {
		t.Errorf("the prune tables after migration: %v", err)
	}
	var n int
	a.Catalog.db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'index'
		AND name IN ('messages_uidl', 'messages_deleted')`).Scan(&n)
	if n != 2 {
		t.Errorf("%d of the POP3 indexes after migration, want 2", n)
	}
}

// TestMigrateToPOP3Schema opens catalogs of the schema before the POP3
// indexes' step (the content index's) and of the one before that
// (encryption's): each gains the indexes, whatever schema it comes from.
func TestMigrateToPOP3Schema(t *testing.T) {
	for _, from := range []int{encryptionSchema, pop3Schema - 1} {
		t.Run(fmt.Sprint(from), func(t *testing.T) {
			undo := []string{`DROP INDEX messages_uidl`, `DROP INDEX messages_deleted`, `DROP INDEX messages_gone`}
			if from < gmailSchema {
				undo = append(undo, undoContentColumns)
			}
			undo = append(undo, fmt.Sprintf(`PRAGMA user_version = %d`, from))
			a := reopenDowngraded(t, buildArchive(t, 3), undo...)
			defer a.Close()
			var v, n int
			a.Catalog.db.QueryRow(`PRAGMA user_version`).Scan(&v)
			a.Catalog.db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'index'
				AND name IN ('messages_uidl', 'messages_deleted')`).Scan(&n)
			if v != schemaVersion || n != 2 {
				t.Errorf("from %d: user_version %d, %d POP3 indexes; want %d, 2", from, v, n, schemaVersion)
			}
		})
	}
}

// TestGoneIndex: a catalog of schema 8 gains the index of gone messages,
// and whether a folder has gone messages is answered from it, not by
// reading the folder's rows.
func TestGoneIndex(t *testing.T) {
	ctx := context.Background()
	a := reopenDowngraded(t, buildArchive(t, 3), `DROP INDEX messages_gone`,
		fmt.Sprintf(`PRAGMA user_version = %d`, goneSchema-1))
	defer a.Close()
	var v int
	a.Catalog.db.QueryRow(`PRAGMA user_version`).Scan(&v)
	if v != goneSchema {
		t.Fatalf("user_version %d after migration, want %d", v, goneSchema)
	}
	plan := queryPlan(t, a.Catalog, `SELECT EXISTS (SELECT 1 FROM messages
		WHERE folder_id = ? AND gone_run IS NOT NULL)`, 1)
	if !strings.Contains(plan, "messages_gone") {
		t.Errorf("HasGone's query plan %q does not use messages_gone", plan)
	}
	if gone, err := a.Catalog.HasGone(ctx, 1); err != nil || gone {
		t.Errorf("HasGone = %v, %v; want false", gone, err)
	}
}

// reopenDowngraded closes a, runs stmts on its catalog (undoing later
// schema steps), and opens it again for writing, which migrates it.
func reopenDowngraded(t *testing.T, a *Writer, stmts ...string) *Writer {
	t.Helper()
	root := filepath.Dir(a.Dir)
	a.Close()
	db, err := sql.Open("sqlite", filepath.Join(a.Dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	a, err = OpenWriter(context.Background(), root, "acct", nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestUIDQueries(t *testing.T) {
	a := buildArchive(t, 5)
	ctx := context.Background()
	folders, _ := a.Catalog.Folders(ctx)
	id := folders[0].ID
	msgs, _ := a.Catalog.FolderMessages(ctx, id)
	uv := msgs[0].UIDValidity
	run, _ := a.Catalog.BeginRun(ctx, "imap", time.Now())
	if err := a.Catalog.MarkGoneUIDs(ctx, id, uv, []uint32{msgs[1].UID}, run); err != nil {
		t.Fatal(err)
	}
	known, err := a.Catalog.UIDs(ctx, id, uv)
	if err != nil || len(known) != len(msgs) {
		t.Fatalf("UIDs: %v, %v", known, err)
	}
	for i, k := range known {
		if i > 0 && known[i-1].UID >= k.UID {
			t.Errorf("UIDs not ascending: %v", known)
		}
		if k.Gone != (k.UID == msgs[1].UID) {
			t.Errorf("uid %d gone = %v", k.UID, k.Gone)
		}
	}
	uids := []uint32{msgs[0].UID, msgs[1].UID, msgs[2].UID, 99999}
	present, err := a.Catalog.PresentByUID(ctx, id, uv, uids)
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Sorted(maps.Keys(present))
	if want := []uint32{msgs[0].UID, msgs[2].UID}; !slices.Equal(got, want) {
		t.Errorf("PresentByUID = %v, want %v (gone and unknown left out)", got, want)
	}
	if m := present[msgs[0].UID]; m.ID != msgs[0].ID || m.File != msgs[0].File || m.Key != msgs[0].Key {
		t.Errorf("PresentByUID row %+v, want the fields of %+v", m, msgs[0])
	}
	if n, other, err := a.Catalog.RetireValidity(ctx, id, uv, run); n != 0 || other || err != nil {
		t.Errorf("RetireValidity(same) = %d, %v, %v", n, other, err)
	}
	if n, other, err := a.Catalog.RetireValidity(ctx, id, uv+1, run); n != len(msgs)-1 || !other || err != nil {
		t.Errorf("RetireValidity(new) = %d, %v, %v; want %d present rows retired", n, other, err, len(msgs)-1)
	}
	if known := InsertUID(nil, 7); len(known) != 1 || known[0].UID != 7 {
		t.Errorf("InsertUID: %v", known)
	}
}
