package agent

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/index"
)

// TestPruneDropsIndexDocs: what prune takes leaves the search index too.
func TestPruneDropsIndexDocs(t *testing.T) {
	ctx := context.Background()
	cfg := retentionConfig(t)
	keep, _ := cfg.Account("keep")
	a, err := archive.OpenWriter(ctx, cfg.Archive, keep.Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Two messages archived 60 days ago; one has been gone from the server since.
	run, err := a.Catalog.BeginRun(ctx, "imap", time.Now().Add(-60*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	f, err := a.Folder("INBOX", '/')
	if err != nil {
		t.Fatal(err)
	}
	st, err := a.Catalog.EnsureFolder(ctx, f, run)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := archive.NewSpool("")
	if err != nil {
		t.Fatal(err)
	}
	var b archive.Batch
	var rows []archive.Message
	for uid := uint32(1); uid <= 2; uid++ {
		raw := fmt.Sprintf("Subject: message %d\r\nMessage-ID: <%d@example.org>\r\n\r\nzebra number %d\r\n", uid, uid, uid)
		staged, err := sp.Write(f, bytes.NewReader([]byte(raw)))
		if err != nil {
			t.Fatal(err)
		}
		date := time.Now().Add(-90 * 24 * time.Hour)
		mf, err := b.Add(staged, archive.IMAPKey(1, uid), "", date)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, archive.Message{FolderID: st.ID, UIDValidity: 1, UID: uid, Key: mf.Key, File: mf.Name(),
			SHA256: staged.SHA256, Size: staged.Size, VSize: staged.VSize, InternalDate: date, MessageID: staged.MessageID})
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := a.Catalog.AddMessages(ctx, rows, run); err != nil {
		t.Fatal(err)
	}
	snap, err := archive.OpenSnapshot(ctx, cfg.Archive, keep.Name)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := snap.MessagesAfter(ctx, 0, 10)
	snap.Close()
	if err := a.Catalog.MarkGone(ctx, []int64{all[0].ID}, run); err != nil {
		t.Fatal(err)
	}
	if err := a.Catalog.FinishRun(ctx, run, archive.OutcomeOK, archive.RunStats{}, nil, time.Now().Add(-60*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if n, err := index.CatchupAccount(ctx, cfg.Archive, keep.Name, false, nil); err != nil || n != 2 {
		t.Fatalf("index: %d, %v", n, err)
	}

	res, err := Prune(ctx, cfg.Archive, keep, slog.New(slog.DiscardHandler))
	if err != nil || res.Messages != 1 {
		t.Fatalf("prune: %+v, %v", res, err)
	}
	ix, err := index.Open(ctx, filepath.Join(cfg.Archive, keep.Name), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	// Catchup finds nothing left to drop or add: prune's own pass did it.
	if lag, err := ix.Lag(ctx); err != nil || lag != 0 {
		t.Errorf("lag %d, %v", lag, err)
	}
	q, _ := index.Parse("zebra", nil)
	hits, err := ix.Search(ctx, q, index.SearchOptions{})
	if err != nil || len(hits) != 1 || hits[0].ID != all[1].ID {
		t.Errorf("after prune: %+v, %v", hits, err)
	}
	if _, err := ix.Lookup(ctx, archive.Handle("INBOX", all[0].Key)); err == nil {
		t.Error("the pruned message's doc is still in the index")
	}
}
