package index

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/archive"
)

// store is a real account archive (files, catalog) written with the
// archive package's writer API, as a backup writes it.
type store struct {
	root, account string
	w             *archive.Writer
	run           int64
	uid           uint32
}

func newStore(t testing.TB) *store {
	root := t.TempDir()
	w, err := archive.OpenWriter(context.Background(), root, "acct", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	s := &store{root: root, account: "acct", w: w}
	s.newRun(t)
	return s
}

func (s *store) newRun(t testing.TB) {
	run, err := s.w.Catalog.BeginRun(context.Background(), "imap", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s.run = run
}

// add archives one batch of corpus messages and returns their row ids.
func (s *store) add(t testing.TB, msgs []corpusMsg) []int64 {
	ctx := context.Background()
	sp, err := archive.NewSpool("")
	if err != nil {
		t.Fatal(err)
	}
	var b archive.Batch
	var rows []archive.Message
	for _, c := range msgs {
		f, err := s.w.Folder(c.folder, '/')
		if err != nil {
			t.Fatal(err)
		}
		st, err := s.w.Catalog.EnsureFolder(ctx, f, s.run)
		if err != nil {
			t.Fatal(err)
		}
		staged, err := sp.Write(f, bytes.NewReader(corpusData(t, c.name)))
		if err != nil {
			t.Fatal(err)
		}
		date, _ := time.Parse(time.RFC3339, c.date)
		s.uid++
		mf, err := b.Add(staged, archive.IMAPKey(1, s.uid), "", date)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, archive.Message{FolderID: st.ID, UIDValidity: 1, UID: s.uid, Key: mf.Key,
			File: mf.Name(), SHA256: staged.SHA256, Size: staged.Size, VSize: staged.VSize,
			InternalDate: date, Flags: c.flags, MessageID: staged.MessageID})
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := s.w.Catalog.AddMessages(ctx, rows, s.run); err != nil {
		t.Fatal(err)
	}
	ids := s.ids(t)
	return ids[len(ids)-len(msgs):]
}

// ids returns every catalog row id in order.
func (s *store) ids(t testing.TB) []int64 {
	snap := s.snapshot(t)
	rows, err := snap.MessagesAfter(context.Background(), 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, m := range rows {
		ids = append(ids, m.ID)
	}
	return ids
}

func (s *store) snapshot(t testing.TB) *archive.Snapshot {
	snap, err := archive.OpenSnapshot(context.Background(), s.root, s.account)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { snap.Close() })
	return snap
}

func (s *store) dir() string { return filepath.Join(s.root, s.account) }

func (s *store) index(t testing.TB) *Index {
	ix, err := Open(context.Background(), s.dir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

func hitSubjects(hits []Hit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, h.Subject)
	}
	slices.Sort(out)
	return out
}

func searchAll(t testing.TB, ix *Index, q string, opts SearchOptions) []Hit {
	t.Helper()
	query, err := Parse(q, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Limit == 0 {
		opts.Limit = -1
	}
	hits, err := ix.Search(context.Background(), query, opts)
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// TestSnapshotSource indexes a real archive through its read view: every
// row, in every folder, with the content of its file; a damaged file is
// indexed with its problem noted.
func TestSnapshotSource(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	s.add(t, corpus)
	// Damage one file: the verified stream fails, the doc notes it.
	matches, _ := filepath.Glob(filepath.Join(s.dir(), "mail", "Junk", ".mk", "cur", "*"))
	if len(matches) == 0 {
		t.Fatal("no Junk files")
	}
	if err := os.WriteFile(matches[0], []byte("not zstd"), 0o600); err != nil {
		t.Fatal(err)
	}
	ix := s.index(t)
	n, err := ix.Catchup(ctx, NewSource(s.snapshot(t)))
	if err != nil || n != len(corpus) {
		t.Fatalf("catchup: %d, %v", n, err)
	}
	if hits := searchAll(t, ix, "aardvark", SearchOptions{}); len(hits) != 1 || hits[0].Subject != "Holiday photos" {
		t.Errorf("aardvark: %+v", hits)
	}
	if hits := searchAll(t, ix, "", SearchOptions{}); len(hits) != len(corpus) {
		t.Errorf("%d docs, want %d", len(hits), len(corpus))
	}
	damaged := 0
	for _, h := range searchAll(t, ix, "folder:Junk", SearchOptions{}) {
		if strings.Contains(h.Undecodable, "damaged") {
			damaged++
		}
	}
	if damaged != 1 {
		t.Errorf("%d docs note the damaged file, want 1", damaged)
	}
}

// TestUpdate indexes only what is new, and falls back to Catchup when the
// catalog was rebuilt under the index.
func TestUpdate(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	s.add(t, corpus[:4])
	ix := s.index(t)
	src := NewSource(s.snapshot(t))
	if n, err := ix.Update(ctx, src); err != nil || n != 4 {
		t.Fatalf("first update: %d, %v", n, err)
	}
	s.add(t, corpus[4:9])
	if lag, err := ix.Lag(ctx); err != nil || lag != 5 {
		t.Errorf("lag %d, %v; want 5", lag, err)
	}
	if n, err := ix.Update(ctx, src); err != nil || n != 5 {
		t.Fatalf("second update: %d, %v", n, err)
	}
	if n, err := ix.Update(ctx, src); err != nil || n != 0 {
		t.Fatalf("third update: %d, %v", n, err)
	}
	if lag, err := ix.Lag(ctx); err != nil || lag != 0 {
		t.Errorf("lag %d, %v; want 0", lag, err)
	}
	// A catalog rebuilt from the files numbers its rows anew.
	s.add(t, corpus[9:])
	if _, err := s.w.RebuildCatalog(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	if n, err := ix.Update(ctx, NewSource(s.snapshot(t))); err != nil || n == 0 {
		t.Fatalf("update after a rebuilt catalog: %d, %v", n, err)
	}
	if hits := searchAll(t, ix, "", SearchOptions{}); len(hits) != len(corpus) {
		t.Errorf("%d hits after the rebuild, want %d", len(hits), len(corpus))
	}
	var docs int
	ix.db.QueryRow(`SELECT count(*) FROM docs`).Scan(&docs)
	if docs != len(corpus) {
		t.Errorf("%d docs after the rebuild, want %d", docs, len(corpus))
	}
}

// TestFollower: batches committed while the Follower runs are all
// indexed by Close; a Follower that cannot open the index fails Close
// and nothing else.
func TestFollower(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	s.add(t, corpus[:2]) // left unindexed by an earlier run
	f := Follow(ctx, s.root, s.account, nil)
	for i := 2; i < len(corpus); i += 3 {
		s.add(t, corpus[i:min(i+3, len(corpus))])
		f.Committed()
	}
	st, err := f.Close(ctx)
	if err != nil || st.Added != len(corpus) {
		t.Fatalf("close: %+v, %v", st, err)
	}
	ix := s.index(t)
	if hits := searchAll(t, ix, "", SearchOptions{}); len(hits) != len(corpus) {
		t.Errorf("%d hits, want %d", len(hits), len(corpus))
	}

	bad := newStore(t)
	bad.add(t, corpus[:1])
	if err := os.Mkdir(filepath.Join(bad.dir(), File), 0o700); err != nil {
		t.Fatal(err)
	}
	f = Follow(ctx, bad.root, bad.account, nil)
	f.Committed()
	if _, err := f.Close(ctx); err == nil {
		t.Error("an index that cannot be opened: Close gives no error")
	}

	// Close bounded by its context: the Follower stops where it is.
	slow := newStore(t)
	slow.add(t, corpus)
	f = Follow(ctx, slow.root, slow.account, nil)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := f.Close(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("close with a cancelled context: %v", err)
	}
}

// TestResolve finds a message by its handle or a prefix of it, with the
// index, without it, and when the index lags.
func TestResolve(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	s.add(t, corpus[:5])
	snap := s.snapshot(t)
	rows, err := snap.MessagesAfter(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := rows[3]
	name, h := handleOf(t, snap, want)
	check := func(label, handle string) {
		t.Helper()
		m, st, err := Resolve(ctx, snap, handle)
		if err != nil || m.ID != want.ID || st.Name != name {
			t.Errorf("%s: %q → row %d folder %q, %v; want %d %q", label, handle, m.ID, st.Name, err, want.ID, name)
		}
	}
	check("no index", h)
	check("no index, prefix", strings.ToUpper(h[:8]))
	ix := s.index(t)
	if _, err := ix.Catchup(ctx, NewSource(snap)); err != nil {
		t.Fatal(err)
	}
	check("index", h)
	s.add(t, corpus[5:8])
	rows, _ = snap.MessagesAfter(ctx, 0, 100)
	want = rows[6]
	name, h = handleOf(t, snap, want)
	check("index behind", h[:10])
	for _, bad := range []struct {
		h    string
		want error
	}{{"1234567", ErrBadHandle}, {"123456789abcd", ErrBadHandle}, {"zzzzzzzz", ErrBadHandle}, {"00000000", ErrNotFound}} {
		if _, _, err := Resolve(ctx, snap, bad.h); !errors.Is(err, bad.want) {
			t.Errorf("%q: %v, want %v", bad.h, err, bad.want)
		}
	}
}

// handleOf returns a row's folder name and handle.
func handleOf(t testing.TB, snap *archive.Snapshot, m archive.Message) (string, string) {
	folders, err := snap.AllFolders(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range folders {
		if f.ID == m.FolderID {
			return f.Name, archive.Handle(f.Name, m.Key)
		}
	}
	t.Fatalf("no folder %d", m.FolderID)
	return "", ""
}

// TestSearchAsOf keeps the messages the server had at a run.
func TestSearchAsOf(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	first := s.run
	ids := s.add(t, corpus[:3])
	s.newRun(t)
	second := s.run
	if err := s.w.Catalog.MarkGone(ctx, ids[:1], second); err != nil {
		t.Fatal(err)
	}
	s.add(t, corpus[3:4])
	ix := s.index(t)
	if _, err := ix.Catchup(ctx, NewSource(s.snapshot(t))); err != nil {
		t.Fatal(err)
	}
	for run, want := range map[int64]int{0: 4, first: 3, second: 3} {
		if got := len(searchAll(t, ix, "", SearchOptions{Run: run})); got != want {
			t.Errorf("run %d: %d hits, want %d", run, got, want)
		}
	}
	gone := searchAll(t, ix, "", SearchOptions{Run: second})
	if slices.ContainsFunc(gone, func(h Hit) bool { return h.ID == ids[0] }) {
		t.Error("a message gone by the run is found as of it")
	}
}
