package archive

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestSnapshotRuns(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	if _, err := OpenSnapshot(ctx, root, "new"); !errors.Is(err, ErrNoArchive) {
		t.Fatalf("an account without an archive: %v", err)
	}
	a, err := OpenWriter(ctx, root, "acct", nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for i, outcome := range []string{OutcomeFailed, OutcomeOK, OutcomePartial, OutcomeFailed} {
		id, err := a.Catalog.BeginRun(ctx, "imap", t0.Add(time.Duration(i)*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Catalog.FinishRun(ctx, id, outcome, RunStats{NewMessages: i}, nil, t0.Add(time.Duration(i)*time.Hour+time.Minute)); err != nil {
			t.Fatal(err)
		}
	}

	// While the writer holds the lock and its WAL, and after it closed.
	checkRuns := func(when string) {
		c, err := OpenSnapshot(ctx, root, "acct")
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		defer c.Close()
		ok, found, err := c.LastRun(ctx, OutcomeOK)
		if err != nil || !found || ok.NewMessages != 1 {
			t.Fatalf("%s: last ok run %+v %v %v", when, ok, found, err)
		}
		last, _, _ := c.LastRun(ctx, OutcomeOK, OutcomePartial)
		first, _, _ := c.FirstRun(ctx)
		if last.NewMessages != 2 || first.NewMessages != 0 || !first.Started.Equal(t0) {
			t.Fatalf("%s: last success %+v, first run %+v", when, last, first)
		}
		if _, found, _ := c.LastRun(ctx, OutcomeInterrupted); found {
			t.Fatalf("%s: found an interrupted run", when)
		}
		if _, err := c.cat.db.ExecContext(ctx, `DELETE FROM runs`); err == nil {
			t.Fatalf("%s: a read-only catalog accepted a write", when)
		}
	}
	checkRuns("beside the writer")
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	before := listDir(t, filepath.Join(root, "acct"))
	checkRuns("after the writer")
	if after := listDir(t, filepath.Join(root, "acct")); !slices.Equal(before, after) {
		t.Fatalf("reading created files: %v, then %v", before, after)
	}
	// The reader took no lock: a writer can open the account meanwhile.
	c, err := OpenSnapshot(ctx, root, "acct")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w, err := OpenWriter(ctx, root, "acct", nil)
	if err != nil {
		t.Fatalf("a writer beside a reader: %v", err)
	}
	w.Close()
}

func TestSnapshotRefusesOtherFormats(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "acct")
	os.MkdirAll(dir, 0o750)
	os.WriteFile(filepath.Join(dir, formatFile), []byte("mailkeep-archive 99\n"), 0o640)
	if _, err := OpenSnapshot(context.Background(), root, "acct"); !errors.Is(err, ErrFormat) {
		t.Fatalf("format 99: %v", err)
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestSnapshotBesideBackups keeps one snapshot open while a writer commits
// batches, checkpoints its WAL into the database file, closes and opens
// the account again: every read of the long-lived reader answers from one
// committed state, and every row it is given opens.
func TestSnapshotBesideBackups(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	a, err := OpenWriter(ctx, root, "acct", nil)
	if err != nil {
		t.Fatal(err)
	}
	sp, _ := NewSpool("")
	run, _ := a.Catalog.BeginRun(ctx, "imap", time.Now())
	f, _ := a.Folder("INBOX", '/')
	st, _ := a.Catalog.EnsureFolder(ctx, f, run)
	storeRange(t, a, f, sp, st.ID, run, 1, 5)
	snap, err := OpenSnapshot(ctx, root, "acct")
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	for round := 1; round <= 20; round++ {
		storeRange(t, a, f, sp, st.ID, run, round*5+1, round*5+5)
		if _, err := a.Catalog.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			t.Fatal(err)
		}
		if round%5 == 0 { // the writer goes away and comes back
			a.Close()
			if a, err = OpenWriter(ctx, root, "acct", nil); err != nil {
				t.Fatal(err)
			}
			f, _ = a.Folder("INBOX", '/')
		}
		folders, err := snap.Folders(ctx, View{})
		if err != nil || len(folders) != 1 || folders[0].Count != (round+1)*5 {
			t.Fatalf("round %d: folders %+v, %v", round, folders, err)
		}
		msgs, err := snap.Messages(ctx, folders[0].ID, View{})
		if err != nil || len(msgs) != folders[0].Count {
			t.Fatalf("round %d: %d messages, %v", round, len(msgs), err)
		}
		rf, err := snap.Folder(folders[0].FolderState)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			readAll(t, rf, m)
		}
	}
	a.Close()
}

func readAll(t *testing.T, f *Folder, m Message) []byte {
	t.Helper()
	rc, err := f.OpenMessage(m)
	if err != nil {
		t.Fatalf("open %s: %v", m.Key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", m.Key, err)
	}
	return data
}

// TestArchivePrivate: everything under an account's archive is
// owner-only whatever the umask, and the catalog's WAL files stay when the
// writer closes, so that readers never create them. Once an administrator
// gives the account directory's group read access, what mailkeep adds
// stays readable by that group, and nothing is ever more.
func TestArchivePrivate(t *testing.T) {
	old := unix.Umask(0)
	defer unix.Umask(old)
	root := t.TempDir()
	a := buildArchiveIn(t, root, 2)
	a.Close()
	dir := filepath.Join(root, "acct")
	for _, name := range []string{"catalog.db-wal", "catalog.db-shm"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s after the writer closed: %v", name, err)
		}
	}
	checkModes(t, dir, 0o600, 0o700)

	if err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if d.IsDir() {
			return os.Chmod(path, 0o750)
		}
		return os.Chmod(path, 0o640)
	}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	w, err := OpenWriter(ctx, root, "acct", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	sp, _ := NewSpool("")
	run, _ := w.Catalog.BeginRun(ctx, "imap", time.Now())
	f, _ := w.Folder("New/Sub", '/')
	st, _ := w.Catalog.EnsureFolder(ctx, f, run)
	storeRange(t, w, f, sp, st.ID, run, 1, 2)
	checkModes(t, dir, 0o640, 0o750)
}

// checkModes: every file under dir has mode file, every directory dir.
func checkModes(t *testing.T, root string, file, dir fs.FileMode) {
	t.Helper()
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		info, _ := d.Info()
		want := file
		if d.IsDir() {
			want = dir
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
		return nil
	})
}

func TestViews(t *testing.T) {
	ctx := context.Background()
	defer func(n int) { eachPage = n }(eachPage)
	eachPage = 2 // EachMessage's pages end inside folders and on their ends
	root := t.TempDir()
	a, _ := OpenWriter(ctx, root, "acct", nil)
	defer a.Close()
	sp, _ := NewSpool("")
	run1, _ := a.Catalog.BeginRun(ctx, "imap", time.Now())
	in, _ := a.Folder("INBOX", '/')
	inSt, _ := a.Catalog.EnsureFolder(ctx, in, run1)
	storeRange(t, a, in, sp, inSt.ID, run1, 1, 4)
	old, _ := a.Folder("Old", '/')
	oldSt, _ := a.Catalog.EnsureFolder(ctx, old, run1)
	storeRange(t, a, old, sp, oldSt.ID, run1, 1, 2)
	a.Catalog.FinishRun(ctx, run1, OutcomeOK, RunStats{}, nil, time.Now())
	run2, _ := a.Catalog.BeginRun(ctx, "imap", time.Now())
	if err := a.Catalog.MarkGoneUIDs(ctx, inSt.ID, 7, []uint32{2, 3}, run2); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Catalog.MarkFolderGone(ctx, oldSt.ID, run2); err != nil {
		t.Fatal(err)
	}
	storeRange(t, a, in, sp, inSt.ID, run2, 5, 5)
	for _, m := range folderMessages(t, a, inSt.ID) {
		if m.UID == 1 { // other flags from run 2 on: FolderFlags and the rows of each view tell
			if err := a.Catalog.UpdateFlags(ctx, []FlagUpdate{{ID: m.ID, Flags: []string{`\Flagged`, "$Work"}, File: m.File}}, run2); err != nil {
				t.Fatal(err)
			}
		}
	}
	a.Catalog.FinishRun(ctx, run2, OutcomeOK, RunStats{}, nil, time.Now())

	snap, err := OpenSnapshot(ctx, root, "acct")
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	tests := []struct {
		view    View
		folders map[string][]uint32
	}{
		{View{}, map[string][]uint32{"INBOX": {1, 4, 5}}},
		{View{Gone: GoneToo}, map[string][]uint32{"INBOX": {1, 2, 3, 4, 5}, "Old": {1, 2}}},
		{View{Gone: GoneOnly}, map[string][]uint32{"INBOX": {2, 3}, "Old": {1, 2}}},
		{View{Run: run1}, map[string][]uint32{"INBOX": {1, 2, 3, 4}, "Old": {1, 2}}},
		{View{Run: run1, Gone: GoneOnly}, map[string][]uint32{"INBOX": nil, "Old": nil}},
		{View{Run: run2}, map[string][]uint32{"INBOX": {1, 4, 5}}},
		{View{Run: run2, Gone: GoneOnly}, map[string][]uint32{"INBOX": {2, 3}, "Old": {1, 2}}},
	}
	for _, tc := range tests {
		got := map[string][]uint32{}
		folders, err := snap.Folders(ctx, tc.view)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range folders {
			msgs, err := snap.Messages(ctx, f.ID, tc.view)
			if err != nil {
				t.Fatal(err)
			}
			var uids []uint32
			var bytes int64
			var want []Identity
			for _, m := range msgs {
				uids = append(uids, m.UID)
				bytes += m.Size
				want = append(want, Identity{ID: m.ID, MessageID: m.MessageID, Size: m.Size, VSize: m.VSize})
			}
			if len(uids) != f.Count || bytes != f.Bytes {
				t.Errorf("%+v: folder %s counts %d messages of %d bytes, holds %d of %d",
					tc.view, f.Name, f.Count, f.Bytes, len(uids), bytes)
			}
			got[f.Name] = uids
			var ids []Identity
			if err := snap.EachIdentity(ctx, f.ID, tc.view, func(m Identity) error {
				ids = append(ids, m)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids, want) {
				t.Errorf("%+v: folder %s: identities %v, messages say %v", tc.view, f.Name, ids, want)
			}
			rowIDs := make([]int64, len(msgs))
			for k, m := range msgs {
				rowIDs[k] = m.ID
			}
			byID, err := snap.MessagesOf(ctx, append(rowIDs, 1<<40), tc.view) // and a row that is not there
			if err != nil {
				t.Fatal(err)
			}
			slices.SortFunc(byID, func(a, b Message) int { return cmp.Compare(a.ID, b.ID) })
			sorted := slices.SortedFunc(slices.Values(msgs), func(a, b Message) int { return cmp.Compare(a.ID, b.ID) })
			if fmt.Sprint(byID) != fmt.Sprint(sorted) {
				t.Errorf("%+v: folder %s: MessagesOf %v, Messages %v", tc.view, f.Name, byID, sorted)
			}
			var each []Message
			if err := snap.EachMessage(ctx, f.ID, tc.view, func(m Message) error {
				each = append(each, m)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(each) != fmt.Sprint(msgs) {
				t.Errorf("%+v: folder %s: EachMessage %v, Messages %v", tc.view, f.Name, each, msgs)
			}
			sets, err := snap.FolderFlags(ctx, f.ID, tc.view)
			if err != nil {
				t.Fatal(err)
			}
			var gotSets, wantSets []string
			for _, set := range sets {
				gotSets = append(gotSets, strings.Join(set, " "))
			}
			for _, m := range msgs {
				if s := strings.Join(m.Flags, " "); !slices.Contains(wantSets, s) {
					wantSets = append(wantSets, s)
				}
			}
			slices.Sort(wantSets)
			if !slices.Equal(gotSets, wantSets) {
				t.Errorf("%+v: folder %s: FolderFlags %q, the messages have %q", tc.view, f.Name, gotSets, wantSets)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.folders) {
			t.Errorf("%+v: %v, want %v", tc.view, got, tc.folders)
		}
	}
}

// TestOpenMessage: the verified stream gives a message back only when it
// is exactly what the catalog recorded, and finds a renamed file by key.
func TestOpenMessage(t *testing.T) {
	ctx := context.Background()
	a := buildArchive(t, 3)
	st, _ := a.Catalog.Folders(ctx)
	f, _ := openFolder(a.Dir, st[1], a.codec) // INBOX
	rows, _ := a.Catalog.FolderMessages(ctx, st[1].ID)
	want := readAll(t, f, rows[0])

	mf, _ := ParseMessageFile(rows[0].File)
	renamed, err := f.Rename(mf, "F")
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, f, rows[0]); !bytes.Equal(got, want) {
		t.Fatal("a renamed file reads differently")
	}
	f.Rename(renamed, mf.Flags)

	damage := []struct {
		name string
		row  func(Message) Message
	}{
		{"size", func(m Message) Message { m.Size--; return m }},
		{"longer", func(m Message) Message { m.Size++; return m }},
		{"hash", func(m Message) Message { m.SHA256[0] ^= 1; return m }},
	}
	for _, d := range damage {
		rc, err := f.OpenMessage(d.row(rows[1]))
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(rc)
		rc.Close()
		if !errors.Is(err, ErrDamaged) {
			t.Errorf("%s: %v, want ErrDamaged", d.name, err)
		}
	}
	// A flipped byte in the compressed file.
	path := filepath.Join(f.Dir, "cur", rows[2].File)
	data, _ := os.ReadFile(path)
	data[len(data)/2] ^= 0x40
	os.WriteFile(path, data, 0o600)
	rc, err := f.OpenMessage(rows[2])
	if err == nil {
		_, err = io.ReadAll(rc)
		rc.Close()
	}
	if !errors.Is(err, ErrDamaged) {
		t.Errorf("flipped byte: %v, want ErrDamaged", err)
	}
	os.Remove(path)
	if _, err := f.OpenMessage(rows[2]); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestParseAsOf(t *testing.T) {
	loc := time.FixedZone("CET", 3600)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	age := func(s string) (time.Duration, error) {
		if strings.HasSuffix(s, "d") {
			n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
			return time.Duration(n) * 24 * time.Hour, err
		}
		return time.ParseDuration(s)
	}
	tests := []struct {
		in   string
		want AsOf
		bad  bool
	}{
		{"", AsOf{}, false},
		{"42", AsOf{Run: 42}, false},
		{"2026-11-01T08:00:00Z", AsOf{Time: time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)}, false},
		{"2026-11-01", AsOf{Time: time.Date(2026, 11, 1, 23, 59, 59, 999999999, loc)}, false},
		{"2026-11-01 08:30", AsOf{Time: time.Date(2026, 11, 1, 8, 30, 0, 0, loc)}, false},
		{"3d", AsOf{Time: now.Add(-72 * time.Hour)}, false},
		{"12h", AsOf{Time: now.Add(-12 * time.Hour)}, false},
		{"0", AsOf{}, true},
		{"-3", AsOf{}, true},
		{"yesterday", AsOf{}, true},
	}
	for _, tc := range tests {
		got, err := ParseAsOf(tc.in, now, loc, age)
		if (err != nil) != tc.bad || !got.Time.Equal(tc.want.Time) || got.Run != tc.want.Run {
			t.Errorf("%q: %+v, %v; want %+v (error %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestResolveAsOf(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	a, _ := OpenWriter(ctx, root, "acct", nil)
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for i := range 3 {
		id, _ := a.Catalog.BeginRun(ctx, "imap", t0.Add(time.Duration(i)*time.Hour))
		a.Catalog.FinishRun(ctx, id, OutcomeOK, RunStats{}, nil, t0.Add(time.Duration(i)*time.Hour+time.Minute))
	}
	a.Close()
	snap, err := OpenSnapshot(ctx, root, "acct")
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	for _, tc := range []struct {
		as   AsOf
		want int64
	}{{AsOf{}, 0}, {AsOf{Run: 2}, 2}, {AsOf{Time: t0.Add(90 * time.Minute)}, 2}, {AsOf{Time: t0.Add(5 * time.Hour)}, 3}} {
		if r, err := snap.Resolve(ctx, tc.as); err != nil || r.ID != tc.want {
			t.Errorf("%+v: run %d, %v; want %d", tc.as, r.ID, err, tc.want)
		}
	}
	for _, bad := range []AsOf{{Run: 9}, {Time: t0.Add(-time.Second)}} {
		if _, err := snap.Resolve(ctx, bad); !errors.Is(err, ErrNoRun) {
			t.Errorf("%+v: %v, want ErrNoRun", bad, err)
		}
	}
}

// TestSampleArchives: an archive written by an earlier build (format 1,
// catalog schema 2, under testdata) still reads, and migrates when a
// writer opens it.
func TestSampleArchives(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	copyTree(t, "testdata/format1-schema2", root)
	snap, err := OpenSnapshot(ctx, root, "sample")
	if err != nil {
		t.Fatal(err)
	}
	folders, err := snap.Folders(ctx, View{})
	if err != nil || len(folders) != 3 {
		t.Fatalf("folders %+v, %v", folders, err)
	}
	n := 0
	for _, f := range folders {
		msgs, _ := snap.Messages(ctx, f.ID, View{})
		rf, err := snap.Folder(f.FolderState)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if data := readAll(t, rf, m); !bytes.Contains(data, []byte("@sample>")) {
				t.Errorf("%s: %q", m.Key, data)
			}
			n++
		}
	}
	snap.Close()
	if n != 9 {
		t.Fatalf("%d messages, want 9", n)
	}
	w, err := OpenWriter(ctx, root, "sample", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if rep, err := w.Verify(ctx, VerifyOptions{}); err != nil || len(rep.Problems) != 0 || rep.Messages != 9 {
		t.Fatalf("verify after migration: %+v, %v", rep, err)
	}
}

// copyTree copies a sample archive; git keeps no empty directories, so
// each Maildir gets its new/ and tmp/ back.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			if err := os.MkdirAll(dst, 0o700); err != nil {
				return err
			}
			if d.Name() == MaildirLevel {
				os.MkdirAll(filepath.Join(dst, "new"), 0o700)
				os.MkdirAll(filepath.Join(dst, "tmp"), 0o700)
			}
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, _ := d.Info()
		if err := os.WriteFile(dst, data, 0o600); err != nil {
			return err
		}
		return os.Chtimes(dst, info.ModTime(), info.ModTime())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSpecialUseAndNamespace: schema 5 records each folder's special-use
// attributes and the source's personal namespace; a snapshot of a
// catalog of schema 4 or 3 reads its folders without attributes and no
// namespace.
func TestSpecialUseAndNamespace(t *testing.T) {
	ctx := context.Background()
	a := buildArchive(t, 1)
	root := filepath.Dir(a.Dir)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	snap, err := OpenSnapshot(ctx, root, "acct")
	must(err)
	if _, ok, err := snap.Namespace(ctx); ok || err != nil {
		t.Errorf("namespace before any was recorded: ok %v, %v", ok, err)
	}
	snap.Close()
	must(a.Catalog.SetSpecialUse(ctx, map[string][]string{"Archive/2024": {`\Archive`, `\Flagged`}, "Unknown": {`\Sent`}}))
	must(a.Catalog.SetNamespace(ctx, Namespace{Prefix: "INBOX.", Delim: "."}))
	must(a.Catalog.SetNamespace(ctx, Namespace{Prefix: "", Delim: "/"})) // the next run's answer replaces it

	check := func(when string, wantUse string, wantNS Namespace, wantOK bool) {
		t.Helper()
		snap, err := OpenSnapshot(ctx, root, "acct")
		must(err)
		defer snap.Close()
		folders, err := snap.Folders(ctx, View{})
		must(err)
		for _, f := range folders {
			want := ""
			if f.Name == "Archive/2024" {
				want = wantUse
			}
			if f.SpecialUse != want {
				t.Errorf("%s: %s has special use %q, want %q", when, f.Name, f.SpecialUse, want)
			}
		}
		ns, ok, err := snap.Namespace(ctx)
		if ns != wantNS || ok != wantOK || err != nil {
			t.Errorf("%s: namespace %+v, %v, %v; want %+v, %v", when, ns, ok, err, wantNS, wantOK)
		}
	}
	check("schema 5", `\Archive \Flagged`, Namespace{Delim: "/"}, true)
	must(a.Catalog.SetSpecialUse(ctx, map[string][]string{"Archive/2024": nil}))
	check("attributes taken away", "", Namespace{Delim: "/"}, true)
	must(a.Catalog.SetSpecialUse(ctx, map[string][]string{"Archive/2024": {`\Archive`}}))
	a.Close()

	downgrade := func(qs ...string) {
		db, err := sql.Open("sqlite", filepath.Join(a.Dir, "catalog.db"))
		must(err)
		defer db.Close()
		for _, q := range qs {
			_, err := db.Exec(q)
			must(err)
		}
	}
	downgrade(`DROP INDEX messages_uidl`, `DROP INDEX messages_deleted`, `DROP INDEX messages_gone`, undoContentColumns,
		`ALTER TABLE messages DROP COLUMN file_sha256`, `DROP TABLE staged`,
		`ALTER TABLE folders DROP COLUMN special_use`, `DROP TABLE account_meta`, `PRAGMA user_version = 4`)
	check("schema 4", "", Namespace{}, false)
	downgrade(`DROP TABLE pruned`, `DROP TABLE prunes`, `PRAGMA user_version = 3`)
	check("schema 3", "", Namespace{}, false)

	w, err := OpenWriter(ctx, root, "acct", nil) // migrates to the newest schema
	must(err)
	defer w.Close()
	check("migrated from 3", "", Namespace{}, false)
}
