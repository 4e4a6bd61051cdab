package backup_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/internal/logtest"
	"github.com/mailkeep/mailkeep/transport"
)

// TestTailSync: after a sync that left nothing behind, the next sync of
// the folder lists only the UIDs from its UIDNEXT on and still picks up
// flag changes of older messages; a message gone below that UIDNEXT makes
// the sync compare the whole folder, which records it gone.
func TestTailSync(t *testing.T) {
	ctx := t.Context()
	src, dial, root := aliceOnDovecot(t)
	if err := src.Create("Box", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 4; i++ {
		appendMessage(t, src, "Box", i)
	}
	const tail = `msg="tail sync" folder=Box`
	res, log := logBackup(t, ctx, root, dial)
	if res.Stats.NewMessages != 4 || strings.Contains(log, tail) {
		t.Fatalf("first run: %+v, tail sync: %v", res.Stats, strings.Contains(log, tail))
	}

	appendMessage(t, src, "Box", 5)
	appendMessage(t, src, "Box", 6)
	storeFlags(t, src, "Box", 1, imap.FlagFlagged)
	res, log = logBackup(t, ctx, root, dial)
	if s := res.Stats; s.NewMessages != 2 || s.FlagUpdates != 1 || s.Gone != 0 || !strings.Contains(log, tail) {
		t.Fatalf("after 2 new and a flag: %+v, tail sync: %v", s, strings.Contains(log, tail))
	}

	storeFlags(t, src, "Box", 2, imap.FlagDeleted)
	if err := src.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	appendMessage(t, src, "Box", 7)
	res, log = logBackup(t, ctx, root, dial)
	if s := res.Stats; s.NewMessages != 1 || s.Gone != 1 || strings.Contains(log, tail) ||
		!strings.Contains(log, "messages have gone") {
		t.Fatalf("after one gone below UIDNEXT and one new: %+v\n%s", s, log)
	}

	appendMessage(t, src, "Box", 8)
	res, log = logBackup(t, ctx, root, dial)
	if s := res.Stats; s.NewMessages != 1 || s.Gone != 0 || !strings.Contains(log, tail) {
		t.Fatalf("after the whole compare certified again: %+v, tail sync: %v", s, strings.Contains(log, tail))
	}
	checkFolderCount(t, root, "Box", 8)
}

// storeFlags adds flags to message uid of folder.
func storeFlags(t *testing.T, c *imapclient.Client, folder string, uid imap.UID, flags ...imap.Flag) {
	t.Helper()
	if _, err := c.Select(folder, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	err := c.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: flags}, nil).Close()
	if err != nil {
		t.Fatal(err)
	}
}

// logBackup is runBackup with the run's debug log returned.
func logBackup(t *testing.T, ctx context.Context, root string, dial transport.IMAPDialer) (backup.Result, string) {
	t.Helper()
	var buf logtest.Buffer
	res := backupLogged(t, ctx, root, dial, slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	return res, buf.String()
}
