package index

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFileModeAndVersion(t *testing.T) {
	fx := fullFixture(t)
	for _, suffix := range []string{"", "-wal", "-shm"} {
		fi, err := os.Stat(filepath.Join(fx.dir, File+suffix))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s%s: mode %v", File, suffix, fi.Mode().Perm())
		}
	}
	n, err := fx.ix.Size()
	if err != nil || n <= 0 {
		t.Errorf("Size: %d, %v", n, err)
	}
	fx.ix.Close()
	db, err := sql.Open("sqlite", filepath.Join(fx.dir, File))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(context.Background(), fx.dir, nil); !errors.Is(err, ErrVersion) {
		t.Errorf("Open of a newer index: %v", err)
	}
}

// TestCatchup: the index lags the catalog (a crash between a batch's
// catalog commit and its index write) and Catchup closes the gap, drops
// docs whose row is gone, and replaces docs of renumbered rows.
func TestCatchup(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t)
	fx.add(t, corpus[:5])
	if n, err := fx.ix.Catchup(ctx, fx.src); err != nil || n != 5 {
		t.Fatalf("first catchup: %d, %v", n, err)
	}
	fx.add(t, corpus[5:])
	if got := len(search(t, fx, "", SearchOptions{Limit: -1})); got != 5 {
		t.Errorf("before catchup: %d hits", got)
	}
	if n, err := fx.ix.Catchup(ctx, fx.src); err != nil || n != len(corpus)-5 {
		t.Fatalf("second catchup: %d, %v", n, err)
	}
	if n, err := fx.ix.Catchup(ctx, fx.src); err != nil || n != 0 {
		t.Fatalf("third catchup: %d, %v", n, err)
	}
	// A doc without a catalog row, and one whose row now holds another key.
	stray := Doc{MessageInfo: MessageInfo{ID: 9999, Folder: "INBOX", Key: "m1.9999", Date: time.Now()}, Subject: "stray"}
	moved := Doc{MessageInfo: MessageInfo{ID: fx.names["plain"], Folder: "INBOX", Key: "m9.9", Date: time.Now()}, Subject: "moved"}
	if err := fx.ix.Add(ctx, []Doc{stray, moved}); err != nil {
		t.Fatal(err)
	}
	if hits := search(t, fx, "stray OR moved OR invoice", SearchOptions{}); len(hits) != 0 {
		t.Errorf("docs without a matching row are found: %+v", hits)
	}
	if n, err := fx.ix.Catchup(ctx, fx.src); err != nil || n != 1 {
		t.Fatalf("catchup after damage: %d, %v", n, err)
	}
	if got := fx.hitNames(t, search(t, fx, "stray OR moved OR invoice", SearchOptions{})); !slices.Equal(got, []string{"plain"}) {
		t.Errorf("after catchup: %v", got)
	}
	if _, err := fx.ix.Lookup(ctx, "0000000000"); !errors.Is(err, ErrNotFound) {
		t.Error(err)
	}
	var docs int
	fx.ix.db.QueryRow("SELECT count(*) FROM docs").Scan(&docs)
	if docs != len(corpus) {
		t.Errorf("%d docs, want %d", docs, len(corpus))
	}
}

func TestCatchupOpenError(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t)
	fx.add(t, corpus[:2])
	for k := range fx.src.content {
		if strings.HasSuffix(k, ".1") {
			fx.src.openErr[k] = errors.New("file damaged")
		}
	}
	if n, err := fx.ix.Catchup(ctx, fx.src); err != nil || n != 2 {
		t.Fatalf("catchup: %d, %v", n, err)
	}
	hits := search(t, fx, "folder:INBOX -resume", SearchOptions{})
	if len(hits) != 1 || !strings.Contains(hits[0].Undecodable, "file damaged") {
		t.Errorf("undecodable message: %+v", hits)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := fx.ix.Rebuild(cctx, fx.src); err == nil {
		t.Error("rebuild with a cancelled context: no error")
	}
}

type unorderedSource struct{ *memSource }

func (s unorderedSource) Messages(ctx context.Context, fn func(MessageInfo) error) error {
	if err := fn(MessageInfo{ID: 2}); err != nil {
		return err
	}
	return fn(MessageInfo{ID: 1})
}

func TestCatchupOrder(t *testing.T) {
	fx := newFixture(t)
	if _, err := fx.ix.Catchup(context.Background(), unorderedSource{fx.src}); err == nil {
		t.Error("ids out of order: no error")
	}
}

func TestRebuildAndDelete(t *testing.T) {
	ctx := context.Background()
	fx := fullFixture(t)
	if n, err := fx.ix.Rebuild(ctx, fx.src); err != nil || n != len(corpus) {
		t.Fatalf("rebuild: %d, %v", n, err)
	}
	if got := search(t, fx, "invoice OR kiwi", SearchOptions{}); len(got) != 2 {
		t.Errorf("after rebuild: %+v", got)
	}
	if err := fx.ix.Delete(ctx, []int64{fx.names["plain"], 12345}); err != nil {
		t.Fatal(err)
	}
	if got := fx.hitNames(t, search(t, fx, "invoice OR kiwi", SearchOptions{})); !slices.Equal(got, []string{"nested"}) {
		t.Errorf("after delete: %v", got)
	}
	// Adding twice replaces.
	d := Doc{MessageInfo: MessageInfo{ID: fx.names["nested"], Folder: "INBOX", Key: "m1.8", Date: time.Now()}, Body: "papaya"}
	if err := fx.ix.Add(ctx, []Doc{d, d}); err != nil {
		t.Fatal(err)
	}
	if got := search(t, fx, "kiwi", SearchOptions{}); len(got) != 0 {
		t.Errorf("old text still found: %+v", got)
	}
	if got := search(t, fx, "papaya", SearchOptions{}); len(got) != 1 {
		t.Errorf("new text: %+v", got)
	}
}

func TestOpenReadOnly(t *testing.T) {
	ctx := context.Background()
	fx := fullFixture(t)
	ro, err := OpenReadOnly(ctx, fx.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	q, _ := Parse("invoice", nil)
	hits, err := ro.Search(ctx, q, SearchOptions{})
	if err != nil || len(hits) != 1 {
		t.Errorf("read-only search: %+v, %v", hits, err)
	}
	if id, err := ro.Lookup(ctx, fx.handle(t, "plain")); err != nil || id != fx.names["plain"] {
		t.Errorf("read-only lookup: %d, %v", id, err)
	}
	if err := ro.Add(ctx, []Doc{{MessageInfo: MessageInfo{ID: 1}}}); err == nil {
		t.Error("read-only index accepted a write")
	}
	if _, err := OpenReadOnly(ctx, t.TempDir()); !errors.Is(err, ErrNoIndex) {
		t.Errorf("no index: %v", err)
	}
}

// TestOpenReadOnlyIdle: the writer keeps its WAL when it closes, so a
// reader afterwards uses it, and the files keep their mode.
func TestOpenReadOnlyIdle(t *testing.T) {
	ctx := context.Background()
	fx := fullFixture(t)
	fx.ix.Close()
	ro, err := OpenReadOnly(ctx, fx.dir)
	if err != nil {
		t.Fatal(err)
	}
	q, _ := Parse("kiwi", nil)
	if hits, err := ro.Search(ctx, q, SearchOptions{}); err != nil || len(hits) != 1 {
		t.Errorf("search: %+v, %v", hits, err)
	}
	ro.Close()
	for _, suffix := range []string{"-wal", "-shm"} {
		fi, err := os.Stat(filepath.Join(fx.dir, File+suffix))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s%s after the writer closed: %v, %v", File, suffix, fi, err)
		}
	}
}
