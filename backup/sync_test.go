package backup_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
	"github.com/mailkeep/mailkeep/transport"
)

// TestUIDValidityChange recreates a folder on Dovecot, which gives it a new
// UIDVALIDITY: the messages that come back are renumbered, not stored
// twice, their new flags are picked up, the one that does not come back is
// kept as gone, and a new one is fetched.
func TestUIDValidityChange(t *testing.T) {
	ctx := t.Context()
	src, dial, root := aliceOnDovecot(t)

	if err := src.Create("Box", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		appendMessage(t, src, "Box", i)
	}
	if res := runBackup(t, ctx, root, dial); res.Stats.NewMessages != 3 {
		t.Fatalf("first run: %+v", res.Stats)
	}

	if err := src.Delete("Box").Wait(); err != nil {
		t.Fatal(err)
	}
	if err := src.Create("Box", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	appendMessage(t, src, "Box", 1)
	appendMessage(t, src, "Box", 2, imap.FlagFlagged)
	appendMessage(t, src, "Box", 4)
	res := runBackup(t, ctx, root, dial)
	if s := res.Stats; s.NewMessages != 1 || s.FlagUpdates != 1 {
		t.Fatalf("after the folder came back: %+v, want 1 new message (4) and 1 flag update (2)", s)
	}
	if s := runBackup(t, ctx, root, dial).Stats; s.NewMessages != 0 || s.FlagUpdates != 0 || s.Gone != 0 {
		t.Fatalf("no-change run did something: %+v", s)
	}

	a, err := archive.OpenWriter(ctx, root, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	st, err := a.Catalog.EnsureFolder(ctx, mustFolder(t, a, "Box"), 0)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := a.Catalog.FolderMessages(ctx, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	gone := 0
	for _, m := range rows {
		if m.GoneRun != 0 {
			gone++
			continue
		}
		if m.UIDValidity != st.UIDValidity {
			t.Errorf("present row %s kept the old UIDVALIDITY", m.Key)
		}
		present[fmt.Sprint(m.MessageID, m.Flags)] = true
	}
	want := []string{"<m1@uidvalidity.test>[]", "<m2@uidvalidity.test>[\\Flagged]", "<m4@uidvalidity.test>[]"}
	for _, w := range want {
		if !present[w] {
			t.Errorf("no present row %s; have %v", w, present)
		}
	}
	if len(rows) != 4 || gone != 1 {
		t.Errorf("%d rows, %d gone; want 4 rows (one per distinct message), 1 gone", len(rows), gone)
	}
	compareWithArchive(t, src, root)
}

// aliceOnDovecot starts a Dovecot and returns a client of alice's, a
// dialer for her backups, and an archive root.
func aliceOnDovecot(t *testing.T) (*imapclient.Client, transport.IMAPDialer, string) {
	t.Helper()
	srv := dovecottest.Start(t, dovecottest.Options{})
	return srv.Dial(t, "alice"), dialer(srv, "alice"), t.TempDir()
}

func mustFolder(t *testing.T, a *archive.Writer, name string) *archive.Folder {
	t.Helper()
	f, err := a.Folder(name, '/')
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// appendMessage appends test message i to folder.
func appendMessage(t *testing.T, c *imapclient.Client, folder string, i int, flags ...imap.Flag) {
	t.Helper()
	body := fmt.Sprintf("From: a@uidvalidity.test\r\nSubject: message %d\r\nMessage-ID: <m%d@uidvalidity.test>\r\n\r\nbody %d\r\n", i, i, i)
	cmd := c.Append(folder, int64(len(body)), &imap.AppendOptions{Flags: flags,
		Time: time.Date(2024, 1, i, 0, 0, 0, 0, time.UTC)})
	if _, err := cmd.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestAdoptsOrphansAfterInterruptedRun: a file published by a run that
// died before recording its row is adopted by the next run, not fetched
// again, once a run that did not end cleanly lies between the folder's
// last clean sync and now.
func TestAdoptsOrphansAfterInterruptedRun(t *testing.T) {
	ctx := t.Context()
	src, dial, root := aliceOnDovecot(t)
	for i := 1; i <= 3; i++ {
		appendMessage(t, src, "INBOX", i)
	}
	runBackup(t, ctx, root, dial)

	a, err := archive.OpenWriter(ctx, root, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Catalog.BeginRun(ctx, "imap", time.Now()); err != nil { // dies "running"
		t.Fatal(err)
	}
	a.Close()
	db, err := sql.Open("sqlite", filepath.Join(root, "alice", "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DELETE FROM flag_history WHERE message IN (SELECT id FROM messages WHERE uid = 2)`,
		`DELETE FROM messages WHERE uid = 2`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	appendMessage(t, src, "INBOX", 4)
	if s := runBackup(t, ctx, root, dial).Stats; s.NewMessages != 1 {
		t.Fatalf("%+v: want only message 4 fetched, message 2 adopted", s)
	}
	compareWithArchive(t, src, root)
}
