package backup_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/internal/gmailfake"
)

// gmailMessages are a mailbox as Gmail shows it: the first message in
// INBOX and under two labels (so in four folders with All Mail), the
// second sent, the third archived (All Mail only), the fourth in Trash.
func gmailMessages() []*gmailfake.Message {
	date := time.Date(2025, 6, 1, 9, 30, 0, 0, time.FixedZone("", -7*3600))
	msg := func(i int, labels ...string) *gmailfake.Message {
		return &gmailfake.Message{Raw: fmt.Sprintf("Message-ID: <%d@gmail.test>\r\nSubject: %d\r\n\r\nbody %d\r\n", i, i, i),
			Date: date.Add(time.Duration(i) * time.Hour), Flags: []string{`\Seen`}, Labels: labels}
	}
	trash := msg(4)
	trash.Trash = true
	return []*gmailfake.Message{msg(1, `\Inbox`, "Work", "Travel"), msg(2, `\Sent`), msg(3), trash}
}

func gmailBackup(t *testing.T, root string, srv *gmailfake.Server, set backup.Settings) (backup.Result, error) {
	t.Helper()
	ctx := context.Background()
	a, err := archive.OpenWriter(ctx, root, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	return backup.IMAP(ctx, a, backup.Options{Dial: dialVia(srv.Addr, srv.User, srv.Password, 0), Connections: 4, Settings: set})
}

// archivedRows returns every message row of the archive by folder name.
func archivedRows(t *testing.T, root string) map[string][]archive.Message {
	t.Helper()
	ctx := context.Background()
	a, err := archive.OpenWriter(ctx, root, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	folders, err := a.Catalog.Folders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]archive.Message{}
	for _, f := range folders {
		msgs, err := a.Catalog.FolderMessages(ctx, f.ID)
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name] = msgs
	}
	return out
}

// fileOf returns the path of a message row's file in the archive.
func fileOf(t *testing.T, root, folder string, m archive.Message) string {
	t.Helper()
	dir := filepath.Join(root, "alice", "mail", filepath.FromSlash(archive.FolderDir(folder, '/')), archive.MaildirLevel, "cur")
	return filepath.Join(dir, m.File)
}

func links(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return uint64(fi.Sys().(*syscall.Stat_t).Nlink)
}

// TestGmailStoredOnce: a message that Gmail shows in INBOX, All Mail and
// two labels is downloaded once and stored once, with four names; the
// catalog records each folder's row with the message's X-GM-MSGID and
// labels. Four connections sync the folders at once. A later run fetches
// no body it has, records a label change, and downloads a new message
// once however many labels it has.
func TestGmailStoredOnce(t *testing.T) {
	srv := gmailfake.Start(t, gmailMessages())
	root := t.TempDir()
	res, err := gmailBackup(t, root, srv, backup.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	sent := 0
	for id, n := range srv.Bodies() {
		sent += n
		if n != 1 {
			t.Errorf("body of %d sent %d times", id, n)
		}
	}
	// Each FETCH of bodies asks for the ones its folder downloads, and
	// folders that download nothing send none.
	if n := srv.Count("UID FETCH BODY"); sent != 4 || n > 4 {
		t.Errorf("%d bodies sent in %d FETCH commands, want 4 in at most 4", sent, n)
	}
	s := res.Stats
	if s.NewMessages != 8 || s.Linked != 4 || s.NotDownloaded != 4 || s.SavedBytes <= 0 {
		t.Errorf("stats %+v: want 8 new messages, 4 of them links not downloaded", s)
	}
	rows := archivedRows(t, root)
	first := srv.Messages()[0]
	for _, folder := range []string{"INBOX", gmailfake.AllMail, "Work", "Travel"} {
		var row *archive.Message
		for i, m := range rows[folder] {
			if m.GmailMsgID == first.MsgID || m.MessageID == "<1@gmail.test>" {
				row = &rows[folder][i]
			}
		}
		if row == nil {
			t.Fatalf("%s: no row of the first message: %+v", folder, rows[folder])
		}
		if n := links(t, fileOf(t, root, folder, *row)); n != 4 {
			t.Errorf("%s: the first message's file has %d names, want 4", folder, n)
		}
	}
	checkGmailColumns(t, root, first.MsgID)
	checkNothingBroken(t, root)

	srv.SetLabels(first.MsgID, []string{`\Inbox`, "Work", "Travel", "Later"})
	srv.Add(&gmailfake.Message{Raw: "Message-ID: <5@gmail.test>\r\n\r\nnew\r\n", Date: time.Now().Truncate(time.Second),
		Labels: []string{`\Inbox`, "Work"}})
	res, err = gmailBackup(t, root, srv, backup.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	for id, n := range srv.Bodies() {
		if n != 1 {
			t.Errorf("after the second run, body of %d sent %d times", id, n)
		}
	}
	// The new message in INBOX, Work, All Mail; the first in Later.
	if s := res.Stats; s.NewMessages != 4 || s.Linked != 3 {
		t.Errorf("second run %+v: want 4 new rows, 3 of them links", s)
	}
	if got := labelsOf(t, root, "INBOX", first.MsgID); !slices.Equal(got, []string{"Later", "Travel", "Work"}) {
		t.Errorf("labels after the change: %q", got)
	}
	checkNothingBroken(t, root)
}

// labelsOf reads the labels the catalog records for a Gmail message in a
// folder.
func labelsOf(t *testing.T, root, folder string, id uint64) []string {
	t.Helper()
	snap, err := archive.OpenSnapshot(context.Background(), root, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	folders, _ := snap.Folders(context.Background(), archive.View{})
	for _, f := range folders {
		if f.Name != folder {
			continue
		}
		g, err := snap.Gmail(context.Background(), f.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range g {
			if v.MsgID == id {
				return v.Labels
			}
		}
	}
	t.Fatalf("no message %d in %s", id, folder)
	return nil
}

func checkGmailColumns(t *testing.T, root string, id uint64) {
	t.Helper()
	if got := labelsOf(t, root, gmailfake.AllMail, id); !slices.Equal(got, []string{"Travel", "Work", `\Inbox`}) {
		t.Errorf("labels in All Mail: %q", got)
	}
	if got := labelsOf(t, root, "Work", id); !slices.Equal(got, []string{"Travel", `\Inbox`}) {
		t.Errorf("labels in Work: %q", got)
	}
}
