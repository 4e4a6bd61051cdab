package backup_test

import (
	"context"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
)

// copyAll copies every message of folder from into folder to (created),
// with IMAP COPY: Dovecot keeps each message's INTERNALDATE.
func copyAll(t *testing.T, c *imapclient.Client, from, to string) {
	t.Helper()
	if err := c.Create(to, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select(from, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Copy(imap.SeqSet{{Start: 1, Stop: 0}}, to).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestCopiedFolderStoredOnce: on Dovecot, a folder copied twice (COPY,
// once with a flag changed in one copy) is backed up with each content
// stored once: one file with a name in each folder, each name with its
// folder's flags. Dovecot serving the archive shows every folder as the
// source does; verify reads each content once; a prune of one copy
// (deleted on the server) takes its names and frees no disk, and the
// other folders keep theirs.
func TestCopiedFolderStoredOnce(t *testing.T) {
	ctx := t.Context()
	srv := dovecottest.Start(t, dovecottest.Options{})
	msgs := corpus.Generate(corpus.Options{Seed: 11, Count: 60, Folders: []string{"INBOX", "Archive"}})
	src := srv.Dial(t, "alice")
	if err := corpus.Load(ctx, src, msgs); err != nil {
		t.Fatal(err)
	}
	copyAll(t, src, "INBOX", "Copy")
	copyAll(t, src, "INBOX", "Copy2")
	if _, err := src.Select("Copy", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	err := src.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
		Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close()
	if err != nil {
		t.Fatal(err)
	}
	src.Unselect().Wait()

	root := t.TempDir()
	res := runBackup(t, ctx, root, dialer(srv, "alice"))
	rows := archivedRows(t, root)
	inbox := len(rows["INBOX"])
	if res.Stats.Linked != 2*inbox || res.Stats.SavedBytes <= 0 || len(rows["Copy"]) != inbox {
		t.Fatalf("stats %+v with %d INBOX messages: want each copy stored as a link", res.Stats, inbox)
	}
	checkLinkedOnce(t, root, rows)
	compareWithArchive(t, src, root)

	a, err := archive.OpenWriter(ctx, root, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := a.Verify(ctx, archive.VerifyOptions{})
	a.Close()
	if err != nil || len(rep.Problems) > 0 || rep.Shared != 2*inbox || rep.Messages != len(msgs)+2*inbox {
		t.Fatalf("verify: %+v, %v; want %d messages, %d of them read once through another name", rep, err,
			len(msgs)+2*inbox, 2*inbox)
	}

	if err := src.Delete("Copy2").Wait(); err != nil {
		t.Fatal(err)
	}
	runBackup(t, ctx, root, dialer(srv, "alice"))
	pruneFolders(t, ctx, root)
	rows = archivedRows(t, root)
	if _, ok := rows["Copy2"]; ok {
		t.Fatalf("Copy2 is still in the catalog after the prune")
	}
	checkLinkedOnce(t, root, rows)
	compareWithArchive(t, src, root)
}

// pruneFolders prunes the folders the server deleted, as a prune two days
// later with folders_gone_after: 1d does.
func pruneFolders(t *testing.T, ctx context.Context, root string) {
	t.Helper()
	a, err := archive.OpenWriter(ctx, root, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	res, err := a.Prune(ctx, archive.PruneOptions{Retention: archive.Retention{FoldersGoneAfter: 24 * time.Hour},
		Now: time.Now().Add(48 * time.Hour)})
	if err != nil || res.FoldersRemoved != 1 || res.Messages == 0 || res.DiskBytes != 0 {
		t.Fatalf("prune: %+v, %v; want one folder taken, no disk freed (INBOX and Copy keep every content)", res, err)
	}
	rep, err := a.Verify(ctx, archive.VerifyOptions{})
	if err != nil || len(rep.Problems) > 0 {
		t.Fatalf("verify after the prune: %+v, %v", rep, err)
	}
}
