package archive

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// linkFolder stores, in a new folder named name, a hard link to every
// message of folder from, under the same UIDs, and returns its state.
func linkFolder(t *testing.T, a *Writer, from FolderState, name string, run int64) FolderState {
	t.Helper()
	ctx := context.Background()
	f, err := a.Folder(name, '/')
	must(t, err)
	st, err := a.Catalog.EnsureFolder(ctx, f, run)
	must(t, err)
	msgs, err := a.Catalog.FolderMessages(ctx, from.ID)
	must(t, err)
	var b Batch
	var rows []Message
	for _, m := range msgs {
		found, err := a.Catalog.ContentBySHA256(ctx, m.SHA256)
		if err != nil || len(found) == 0 {
			t.Fatalf("content of %s: %v, %v", m.Key, found, err)
		}
		src, err := a.ContentPath(found[0])
		must(t, err)
		staged, err := f.StageLink(src, found[0].Message)
		must(t, err)
		mf, err := b.Add(staged, m.Key, "S", m.InternalDate)
		must(t, err)
		row := m
		row.FolderID, row.File, row.Flags = st.ID, mf.Name(), []string{`\Seen`}
		rows = append(rows, row)
	}
	must(t, b.Commit())
	must(t, a.Catalog.AddMessages(ctx, rows, run))
	return st
}

func nlink(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	must(t, err)
	return uint64(fi.Sys().(*syscall.Stat_t).Nlink)
}

// TestLinkedContent: a folder whose messages are hard links to another's
// is read and verified like any, each content read once; a prune counts
// the disk freed only when it takes a content's last name.
func TestLinkedContent(t *testing.T) {
	ctx := context.Background()
	fx := &pruneFixture{root: t.TempDir()}
	a, err := OpenWriter(ctx, fx.root, "acct", nil)
	must(t, err)
	defer a.Close()
	fx.a = a
	sp, _ := NewSpool("")
	run := fx.begin(t, 500)
	f, _ := a.Folder("A", '/')
	sa, _ := a.Catalog.EnsureFolder(ctx, f, run)
	storeRange(t, a, f, sp, sa.ID, run, 1, 3)
	sb := linkFolder(t, a, sa, "B", run)
	fx.finish(t, run)

	as, bs := curFiles(t, a, "A"), curFiles(t, a, "B")
	for i := range as {
		fa, _ := os.Stat(as[i])
		fb, _ := os.Stat(bs[i])
		if !os.SameFile(fa, fb) || nlink(t, as[i]) != 2 || !fa.ModTime().Equal(fb.ModTime()) {
			t.Fatalf("%s and %s: not one file with two names", as[i], bs[i])
		}
	}
	rep, err := a.Verify(ctx, VerifyOptions{})
	must(t, err)
	if len(rep.Problems) > 0 || rep.Messages != 6 || rep.Shared != 3 {
		t.Fatalf("verify: %+v", rep)
	}
	snap, err := OpenSnapshot(ctx, fx.root, "acct")
	must(t, err)
	defer snap.Close()
	bf, err := snap.Folder(sb)
	must(t, err)
	msgs, _ := snap.Messages(ctx, sb.ID, View{})
	for _, m := range msgs {
		if _, _, err := bf.measure(m, false); err != nil {
			t.Errorf("read %s through its link: %v", m.Key, err)
		}
	}

	run = fx.begin(t, 400)
	must(t, a.Catalog.MarkGoneUIDs(ctx, sa.ID, 7, []uint32{1}, run))
	must(t, a.Catalog.MarkGoneUIDs(ctx, sb.ID, 7, []uint32{1, 2}, run))
	fx.finish(t, run)
	fx.finish(t, fx.begin(t, 1))
	ret := Retention{GoneAfter: days(365)}
	plan, err := snap.PlanPrune(ctx, PruneOptions{Retention: ret, Now: pruneNow})
	must(t, err)
	first, _ := os.Stat(as[0])
	res, err := a.Prune(ctx, PruneOptions{Retention: ret, Now: pruneNow})
	must(t, err)
	if res.Messages != 3 || res.DiskBytes != first.Size() || plan.DiskBytes != res.DiskBytes {
		t.Errorf("prune took %d messages freeing %d bytes (plan %d); want 3 and %d: only content 1 lost its last name",
			res.Messages, res.DiskBytes, plan.DiskBytes, first.Size())
	}
	if _, err := os.Stat(as[0]); !os.IsNotExist(err) {
		t.Errorf("A's first file: %v", err)
	}
	if nlink(t, as[1]) != 1 || nlink(t, as[2]) != 2 {
		t.Errorf("after the prune: A's second file has %d names, its third %d; want 1 and 2", nlink(t, as[1]), nlink(t, as[2]))
	}
	rep, err = a.Verify(ctx, VerifyOptions{})
	if err != nil || len(rep.Problems) > 0 || rep.Messages != 3 || rep.Shared != 1 {
		t.Fatalf("verify after the prune: %+v, %v", rep, err)
	}
}

// TestFreedBytes: the disk an unlink frees is the file's size only at its
// last name within the group, and only when the group holds every name.
func TestFreedBytes(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, n int) string {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, make([]byte, n), 0o600))
		return p
	}
	a, c := write("a", 100), write("c", 7)
	b := filepath.Join(dir, "b")
	must(t, os.Link(a, b))
	info := func(paths ...string) []fs.FileInfo {
		var out []fs.FileInfo
		for _, p := range paths {
			fi, err := os.Lstat(p)
			must(t, err)
			out = append(out, fi)
		}
		return out
	}
	for _, tc := range []struct {
		files []string
		want  []int64
	}{
		{[]string{a}, []int64{0}},
		{[]string{b, c}, []int64{0, 7}},
		{[]string{a, c, b}, []int64{0, 7, 100}},
	} {
		got := freedBytes(info(tc.files...))
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%v: %v, want %v", tc.files, got, tc.want)
				break
			}
		}
	}
	if got := freedBytes([]fs.FileInfo{nil}); got[0] != 0 {
		t.Errorf("a file gone: %v", got)
	}
}

// TestEncryptedLinkedContent: in an encrypted archive a link is of the
// stored age file, so its row takes the SHA-256 as stored from the
// content's row. A crash after a batch of links was published and before
// its rows were recorded leaves them to adoption from their staged rows,
// without the identity, with their Gmail columns; verify then checks each
// content once, with the identity and without.
func TestEncryptedLinkedContent(t *testing.T) {
	ctx := context.Background()
	keys := newKeys(t)
	a, err := OpenWriterKeys(ctx, t.TempDir(), "acct", nil, backupKeys(keys))
	must(t, err)
	t.Cleanup(func() { a.Close() })
	run, _ := a.Catalog.BeginRun(ctx, "imap", time.Now())
	fa, _ := a.Folder("A", '/')
	sa, _ := a.Catalog.EnsureFolder(ctx, fa, run)
	sp, _ := NewSpool("")
	storeRange(t, a, fa, sp, sa.ID, run, 1, 3)
	fb, _ := a.Folder("B", '/')
	sb, _ := a.Catalog.EnsureFolder(ctx, fb, run)

	msgs, _ := a.Catalog.FolderMessages(ctx, sa.ID)
	var b Batch
	var rows []Message
	for i, m := range msgs {
		found, err := a.Catalog.ContentBySHA256(ctx, m.SHA256)
		if err != nil || len(found) != 1 || found[0].FileSHA256 != m.FileSHA256 || m.FileSHA256 == ([32]byte{}) {
			t.Fatalf("content of %s: %+v, %v", m.Key, found, err)
		}
		src, err := a.ContentPath(found[0])
		must(t, err)
		st, err := fb.StageLink(src, found[0].Message)
		must(t, err)
		mf, err := b.Add(st, m.Key, "S", m.InternalDate)
		must(t, err)
		rows = append(rows, Message{FolderID: sb.ID, UIDValidity: 7, UID: m.UID, Key: m.Key, File: mf.Name(),
			SHA256: st.SHA256, Size: st.Size, VSize: st.VSize, InternalDate: m.InternalDate, Flags: []string{`\Seen`},
			MessageID: st.MessageID, FileSHA256: st.FileSHA256, GmailMsgID: uint64(100 + i), Labels: []string{"x"}})
	}
	// The crash: Publish's first two steps, and no rows.
	must(t, a.Catalog.stage(ctx, rows))
	must(t, b.Commit())
	if n, err := a.AdoptOrphans(ctx, fb, sb.ID, run); err != nil || n != 3 {
		t.Fatalf("adopted %d, %v", n, err)
	}
	adopted, _ := a.Catalog.FolderMessages(ctx, sb.ID)
	index := map[string]int{} // adoption order is not the order of msgs
	for i, m := range msgs {
		index[m.Key] = i
	}
	for _, m := range adopted {
		i := index[m.Key]
		if m.FileSHA256 != msgs[i].FileSHA256 {
			t.Errorf("%s: SHA-256 as stored %x, want the content's %x", m.Key, m.FileSHA256, msgs[i].FileSHA256)
		}
		if found, _ := a.Catalog.ContentByGmailMsgID(ctx, uint64(100+i)); len(found) != 1 || found[0].Key != m.Key {
			t.Errorf("X-GM-MSGID %d after adoption: %+v", 100+i, found)
		}
	}
	as, bs := curFiles(t, a, "A"), curFiles(t, a, "B")
	for i := range as {
		fia, _ := os.Stat(as[i])
		fib, _ := os.Stat(bs[i])
		if !os.SameFile(fia, fib) {
			t.Fatalf("%s and %s: not one file", as[i], bs[i])
		}
	}
	for _, k := range []*Keys{nil, keys} {
		if k != nil {
			a = openAs(t, a, k)
		}
		rep, err := a.Verify(ctx, VerifyOptions{})
		if err != nil || len(rep.Problems) > 0 || rep.Messages != 6 || rep.Shared != 3 || rep.HashesOnly != (k == nil) {
			t.Fatalf("verify (hashes only %v): %+v, %v", rep.HashesOnly, rep, err)
		}
	}
}
