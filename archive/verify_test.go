package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// buildArchive stores n messages in each of two folders the way a backup
// does, and returns the open account.
func buildArchive(t *testing.T, n int) *Writer {
	t.Helper()
	return buildArchiveIn(t, t.TempDir(), n)
}

func buildArchiveIn(t *testing.T, root string, n int) *Writer {
	t.Helper()
	return buildArchiveKeys(t, root, n, nil)
}

// buildArchiveKeys is buildArchiveIn for an account with encryption keys
// (nil: none).
func buildArchiveKeys(t *testing.T, root string, n int, keys *Keys) *Writer {
	t.Helper()
	ctx := context.Background()
	a, err := OpenWriterKeys(ctx, root, "acct", nil, keys)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	run, _ := a.Catalog.BeginRun(ctx, "imap", time.Now())
	sp, _ := NewSpool("")
	for _, name := range []string{"INBOX", "Archive/2024"} {
		f, err := a.Folder(name, '/')
		if err != nil {
			t.Fatal(err)
		}
		st, _ := a.Catalog.EnsureFolder(ctx, f, run)
		storeMessages(t, a, f, sp, st.ID, run, n)
	}
	return a
}

func storeMessages(t *testing.T, a *Writer, f *Folder, sp *Spool, folderID, run int64, n int) {
	t.Helper()
	storeRange(t, a, f, sp, folderID, run, 1, n)
}

// storeRange stores messages with UIDs from to to, in one batch.
func storeRange(t testing.TB, a *Writer, f *Folder, sp *Spool, folderID, run int64, from, to int) {
	t.Helper()
	var b Batch
	var rows []Message
	date := time.Date(2024, 3, 1, 12, 0, 0, 0, time.FixedZone("", 3600))
	for i := from; i <= to; i++ {
		raw := fmt.Sprintf("Message-ID: <%d@x>\r\nSubject: %d\r\n\r\nbody %s\n", i, i, bytes.Repeat([]byte("x"), i*100))
		st, err := sp.Write(f, bytes.NewReader([]byte(raw)))
		if err != nil {
			t.Fatal(err)
		}
		flags := []string{`\Seen`, "$Label1"}
		letters := f.Letters(flags)
		key := IMAPKey(7, uint32(i))
		mf, err := b.Add(st, key, letters, date)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, Message{FolderID: folderID, UIDValidity: 7, UID: uint32(i), Key: key, File: mf.Name(),
			SHA256: st.SHA256, Size: st.Size, VSize: st.VSize, InternalDate: date, Flags: flags, MessageID: st.MessageID,
			FileSHA256: st.FileSHA256})
	}
	if err := a.Publish(context.Background(), &b, rows, run); err != nil {
		t.Fatal(err)
	}
}

func curFiles(t *testing.T, a *Writer, folder string) []string {
	t.Helper()
	dir := filepath.Join(a.MailDir(), folder, MaildirLevel, "cur")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, filepath.Join(dir, e.Name()))
	}
	slices.Sort(out)
	return out
}

func kinds(r Report) []string {
	var out []string
	for _, p := range r.Problems {
		out = append(out, p.Kind)
	}
	slices.Sort(out)
	return out
}

func TestVerifyClean(t *testing.T) {
	a := buildArchive(t, 5)
	rep, err := a.Verify(context.Background(), VerifyOptions{})
	if err != nil || len(rep.Problems) != 0 || rep.Messages != 10 || rep.Folders != 2 {
		t.Fatalf("clean archive: %+v, %v", rep, err)
	}
}

func TestVerifyFindsAndRepairs(t *testing.T) {
	ctx := context.Background()
	a := buildArchive(t, 5)
	files := curFiles(t, a, "INBOX")
	damage(t, a, files)

	rep, err := a.Verify(ctx, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{ProblemBadName, ProblemCorrupt, ProblemMissingFile, ProblemOrphanFile, ProblemStaleTemp, ProblemStrayFile}
	if got := kinds(rep); !slices.Equal(got, want) {
		t.Fatalf("problems %v, want %v:\n%v", got, want, rep.Problems)
	}
	rep, err = a.Verify(ctx, VerifyOptions{Repair: true})
	if err != nil {
		t.Fatal(err)
	}
	// What stays: the stray file, and the missing and the corrupt message,
	// set aside for the next backup to fetch again: until it has, the
	// archive is not complete.
	rep, err = a.Verify(ctx, VerifyOptions{})
	if got := kinds(rep); err != nil || !slices.Equal(got, []string{ProblemRefetch, ProblemRefetch, ProblemStrayFile}) {
		t.Fatalf("after repair: %v, %v", rep.Problems, err)
	}
	// The folder's sync state is cleared, so the next backup opens it.
	folders, _ := a.Catalog.Folders(ctx)
	for _, f := range folders {
		if f.Name == "INBOX" && (f.UIDNext != 0 || f.HighestModSeq != 0) {
			t.Errorf("INBOX keeps its sync state after a repair: %+v", f)
		}
	}
	if _, err := os.Stat(filepath.Join(a.Dir, "damaged", "INBOX", filepath.Base(files[1]))); err != nil {
		t.Errorf("corrupt file was not kept aside: %v", err)
	}
}

// damage: files[0] removed, files[1] a flipped byte, files[2] a wrong S=,
// files[3] loses its row (an orphan), plus a stale temp and a stray file.
func damage(t *testing.T, a *Writer, files []string) {
	t.Helper()
	if err := os.Remove(files[0]); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(files[1])
	data[len(data)/2] ^= 0xff
	os.WriteFile(files[1], data, 0o640)
	mf, _ := ParseMessageFile(filepath.Base(files[2]))
	mf.Size++
	os.Rename(files[2], filepath.Join(filepath.Dir(files[2]), mf.Name()))
	orphan, _ := ParseMessageFile(filepath.Base(files[3]))
	var id int64
	a.Catalog.db.QueryRow(`SELECT id FROM messages WHERE key = ?`, orphan.Key).Scan(&id)
	if err := a.Catalog.deleteMessage(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(filepath.Dir(files[0]))
	os.WriteFile(filepath.Join(dir, "tmp", "abc.tmp"), []byte("half"), 0o640)
	os.WriteFile(filepath.Join(dir, "cur", "notes.txt"), []byte("hello"), 0o640)
}

func TestRebuildCatalog(t *testing.T) {
	ctx := context.Background()
	a := buildArchive(t, 6)
	before := allMessages(t, a)
	rep, err := a.RebuildCatalog(ctx, time.Now())
	if err != nil || rep.Messages != 12 || len(rep.Problems) != 0 {
		t.Fatalf("rebuild: %+v, %v", rep, err)
	}
	after := allMessages(t, a)
	if !slices.Equal(before, after) {
		t.Fatalf("rebuilt catalog differs:\n%v\n%v", before, after)
	}
	if _, err := filepath.Glob(filepath.Join(a.Dir, "catalog.db.replaced-*")); err != nil {
		t.Fatal(err)
	}
	if rep, err := a.Verify(ctx, VerifyOptions{}); err != nil || len(rep.Problems) != 0 {
		t.Fatalf("verify after rebuild: %v %v", rep.Problems, err)
	}
}

// allMessages lists what the tree can tell of each message: the date only
// to the second and as an instant, since mtimes keep no zone.
func allMessages(t *testing.T, a *Writer) []string {
	t.Helper()
	ctx := context.Background()
	folders, _ := a.Catalog.Folders(ctx)
	var out []string
	for _, f := range folders {
		msgs, _ := a.Catalog.FolderMessages(ctx, f.ID)
		for _, m := range msgs {
			out = append(out, fmt.Sprintf("%s %s %d %d %x %d %d %v %s %d", f.Name, m.Key, m.UIDValidity, m.UID,
				m.SHA256[:4], m.Size, m.VSize, m.Flags, m.MessageID, m.InternalDate.Unix()))
		}
	}
	slices.Sort(out)
	return out
}

func TestFormatVersionRefused(t *testing.T) {
	for marker, want := range map[string]string{
		"mailkeep-archive 3\n":         "version 3",
		"mailkeep-archive 2\n":         `unknown marker "mailkeep-archive 2"`,
		"mailkeep-archive 2 xchacha\n": `unknown marker "mailkeep-archive 2 xchacha"`,
		"mailkeep-archive 1 age\n":     `unknown marker "mailkeep-archive 1 age"`,
		"maildir 1\n":                  "not a mailkeep archive marker",
	} {
		root := t.TempDir()
		os.MkdirAll(filepath.Join(root, "acct"), 0o750)
		os.WriteFile(filepath.Join(root, "acct", "FORMAT"), []byte(marker), 0o640)
		_, err := OpenWriter(context.Background(), root, "acct", nil)
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: want an error with %q, got %v", marker, want, err)
		}
		if _, err := OpenSnapshot(context.Background(), root, "acct"); !errors.Is(err, ErrFormat) {
			t.Errorf("%q: snapshot: %v, want ErrFormat", marker, err)
		}
	}
}

func TestLockBusy(t *testing.T) {
	root := t.TempDir()
	a, err := OpenWriter(context.Background(), root, "acct", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := OpenWriter(context.Background(), root, "acct", nil); err != ErrBusy {
		t.Fatalf("second open: %v, want ErrBusy", err)
	}
}
