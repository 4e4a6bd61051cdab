package backup

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/archive"
)

// TestAdoptSkipsPrunedFiles: a file without a row is adopted, unless a
// pending prune lists it: then it is deleted. (A backup finishes pending
// prunes before it syncs a folder; this guards the rule on its own.)
func TestAdoptSkipsPrunedFiles(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	a, err := archive.OpenWriter(ctx, root, "acct", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	run, _ := a.Catalog.BeginRun(ctx, "imap", time.Now())
	f, _ := a.Folder("INBOX", '/')
	st, _ := a.Catalog.EnsureFolder(ctx, f, run)
	store(t, a, f, st.ID, run, 3)

	// Message 1 was pruned (its entry pending), message 2 lost its row in
	// a crash (an orphan); the run that did it never finished.
	db, err := sql.Open("sqlite", filepath.Join(root, "acct", "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO prunes (id, started, outcome) VALUES (1, '2026-01-01T00:00:00Z', 'running')`,
		fmt.Sprintf(`INSERT INTO pruned (prune, folder_id, folder, dir, key) VALUES (1, %d, 'INBOX', 'INBOX', 'm7.1')`, st.ID),
		`DELETE FROM flag_history WHERE message IN (SELECT id FROM messages WHERE uid IN (1, 2))`,
		`DELETE FROM messages WHERE uid IN (1, 2)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	next, _ := a.Catalog.BeginRun(ctx, "imap", time.Now()) // the first is now interrupted
	if err := adoptOrphans(ctx, a, f, next, st.ID); err != nil {
		t.Fatal(err)
	}
	keys, _ := a.Catalog.Keys(ctx, st.ID)
	if !keys["m7.2"] || keys["m7.1"] || len(keys) != 2 {
		t.Errorf("catalog keys after adoption: %v; want m7.2 adopted, m7.1 not", keys)
	}
	entries, _ := os.ReadDir(filepath.Join(f.Dir, "cur"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "m7.1,") {
			t.Errorf("the pruned file %s is still there", e.Name())
		}
	}
	if len(entries) != 2 {
		t.Errorf("%d files in cur/, want 2", len(entries))
	}
}

// store stores messages 1..n of folder f in one batch.
func store(t *testing.T, a *archive.Writer, f *archive.Folder, folderID, run int64, n int) {
	t.Helper()
	sp, _ := archive.NewSpool("")
	var b archive.Batch
	var rows []archive.Message
	for i := 1; i <= n; i++ {
		st, err := sp.Write(f, strings.NewReader(fmt.Sprintf("Subject: %d\r\n\r\nbody %d\r\n", i, i)))
		if err != nil {
			t.Fatal(err)
		}
		key := archive.IMAPKey(7, uint32(i))
		mf, err := b.Add(st, key, "", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, archive.Message{FolderID: folderID, UIDValidity: 7, UID: uint32(i), Key: key, File: mf.Name(),
			SHA256: st.SHA256, Size: st.Size, VSize: st.VSize, InternalDate: time.Now()})
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := a.Catalog.AddMessages(context.Background(), rows, run); err != nil {
		t.Fatal(err)
	}
}
