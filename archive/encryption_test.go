package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
)

// newKeys returns keys with one fresh X25519 identity and its recipient.
func newKeys(t testing.TB) *Keys {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return &Keys{Recipients: []age.Recipient{id.Recipient()}, Identities: []age.Identity{id}}
}

// backupKeys are keys as a backup host has them: recipients only.
func backupKeys(k *Keys) *Keys { return &Keys{Recipients: k.Recipients} }

// openAs opens the account of a (closed first) again as a writer with keys.
func openAs(t *testing.T, a *Writer, keys *Keys) *Writer {
	t.Helper()
	a.Close()
	w, err := OpenWriterKeys(context.Background(), filepath.Dir(a.Dir), filepath.Base(a.Dir), nil, keys)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// messageSizes straddle the edges of age's 64 KiB chunks and of zstd's
// blocks.
var messageSizes = []int{0, 1, 2, 100, 64<<10 - 1, 64 << 10, 64<<10 + 1, 128 << 10, 1<<20 + 17}

func testMessage(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		if i%3 == 0 {
			b[i] = byte(r.IntN(256)) // some of it incompressible
		} else {
			b[i] = "abc \r\n."[r.IntN(7)]
		}
	}
	return b
}

// TestCodecFraming writes messages of many sizes into a plain and an
// encrypted archive: a plain file is one zstd frame; an encrypted one is
// an age file whose plaintext is that frame, so the age and zstd tools
// read it; both read back byte for byte through the verified stream.
func TestCodecFraming(t *testing.T) {
	keys := newKeys(t)
	for _, encrypted := range []bool{false, true} {
		var k *Keys
		if encrypted {
			k = backupKeys(keys)
		}
		a, err := OpenWriterKeys(context.Background(), t.TempDir(), "acct", nil, k)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		f, _ := a.Folder("INBOX", '/')
		sp, _ := NewSpool("")
		for i, n := range messageSizes {
			raw := testMessage(n, uint64(i))
			st, err := sp.Write(f, bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			file, _ := os.ReadFile(st.tmp)
			st.Discard()
			if st.Size != int64(n) || st.SHA256 != sha256.Sum256(raw) {
				t.Fatalf("size %d: staged %d %x", n, st.Size, st.SHA256)
			}
			if !encrypted {
				if st.FileSHA256 != ([32]byte{}) {
					t.Errorf("size %d: a plain file has a stored hash", n)
				}
				if got := unzstd(t, file); !bytes.Equal(got, raw) {
					t.Errorf("size %d: plain file does not decompress to the message", n)
				}
				continue
			}
			if !bytes.HasPrefix(file, []byte(ageMagic)) {
				t.Fatalf("size %d: not an age file: %q", n, file[:min(len(file), 30)])
			}
			if st.FileSHA256 != sha256.Sum256(file) {
				t.Errorf("size %d: FileSHA256 is not the hash of the file", n)
			}
			pr, err := age.Decrypt(bytes.NewReader(file), keys.Identities...)
			if err != nil {
				t.Fatal(err)
			}
			frame, _ := io.ReadAll(pr)
			if got := unzstd(t, frame); !bytes.Equal(got, raw) {
				t.Errorf("size %d: age and zstd do not give the message back", n)
			}
			rc, err := decode(bytes.NewReader(file), &codec{encrypted: true, identities: keys.Identities})
			if err != nil {
				t.Fatal(err)
			}
			if got, err := io.ReadAll(rc); err != nil || !bytes.Equal(got, raw) {
				t.Errorf("size %d: decode: %v", n, err)
			}
			rc.Close()
		}
	}
}

func unzstd(t testing.TB, frame []byte) []byte {
	t.Helper()
	d, err := zstd.NewReader(bytes.NewReader(frame))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	out, err := io.ReadAll(d)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// encode frames msg as c does, in memory.
func encode(t testing.TB, msg []byte, c *codec) []byte {
	t.Helper()
	enc, err := newEncoder("")
	if err != nil {
		t.Fatal(err)
	}
	return encodeWith(t, enc, msg, c)
}

func encodeWith(t testing.TB, enc *encoder, msg []byte, c *codec) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := enc.begin(&buf, c); err != nil {
		t.Fatal(err)
	}
	enc.Write(msg)
	if _, err := enc.end(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzCodec round-trips arbitrary messages through the encrypted codec,
// and decodes arbitrary file content: the decoder fails cleanly, never
// panics, and a changed file never decodes to the message unnoticed.
func FuzzCodec(f *testing.F) {
	keys := newKeys(f)
	c := &codec{encrypted: true, recipients: keys.Recipients, identities: keys.Identities}
	f.Add([]byte("Subject: x\r\n\r\nbody\r\n"), uint(0), byte(0))
	f.Add([]byte{}, uint(30), byte(1))
	f.Add(bytes.Repeat([]byte("0123456789abcdef"), 5000), uint(200), byte(0x80))
	enc, err := newEncoder("")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, msg []byte, at uint, flip byte) {
		file := encodeWith(t, enc, msg, c)
		rc, err := decode(bytes.NewReader(file), c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("round trip: %v", err)
		}
		damaged := bytes.Clone(file)
		damaged[int(at)%len(damaged)] ^= flip
		if flip == 0 {
			damaged = damaged[:int(at)%len(damaged)] // cut short instead
		}
		rc, err = decode(bytes.NewReader(damaged), c)
		if err != nil {
			return
		}
		got, err = io.ReadAll(rc)
		rc.Close()
		if err == nil && !bytes.Equal(got, msg) {
			t.Fatalf("damaged file decoded to other content without an error")
		}
		if err == nil && !bytes.Equal(damaged, file) && len(damaged) != len(file) {
			t.Fatalf("a file cut short decoded without an error")
		}
	})
}

func TestEncryptedFormatMarker(t *testing.T) {
	ctx := context.Background()
	keys := newKeys(t)
	root := t.TempDir()
	enc := buildArchiveKeys(t, root, 1, backupKeys(keys))
	plain := buildArchiveKeys(t, filepath.Join(root, "p"), 1, nil)
	for _, c := range []struct {
		a    *Writer
		want string
	}{{enc, "mailkeep-archive 2 age\n"}, {plain, "mailkeep-archive 1\n"}} {
		if data, _ := os.ReadFile(filepath.Join(c.a.Dir, formatFile)); string(data) != c.want {
			t.Errorf("FORMAT %q, want %q", data, c.want)
		}
	}
	// A build that reads version 1 only parsed the marker with "%s %d"
	// and refused any other version.
	var magic string
	var v int
	data, _ := os.ReadFile(filepath.Join(enc.Dir, formatFile))
	if fmt.Sscanf(string(data), "%s %d", &magic, &v); magic != formatMagic || v == 1 {
		t.Errorf("an older build would read the encrypted marker as version %d", v)
	}
	enc.Close()
	plain.Close()

	// The account's configuration must agree with the archive.
	if _, err := OpenWriter(ctx, root, "acct", nil); !errors.Is(err, ErrEncryption) {
		t.Errorf("encrypted archive opened without keys: %v", err)
	}
	if _, err := OpenWriterKeys(ctx, filepath.Join(root, "p"), "acct", nil, keys); !errors.Is(err, ErrEncryption) {
		t.Errorf("plain archive opened with keys: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "p", "acct", formatFile)); string(data) != "mailkeep-archive 1\n" {
		t.Errorf("a refused writer changed the marker: %q", data)
	}
	snap, err := OpenSnapshot(ctx, root, "acct")
	if err != nil || !snap.Encrypted() {
		t.Fatalf("snapshot of an encrypted archive: %v", err)
	}
	snap.Close()
}

// TestEncryptedReading: without an identity, or with another one, a reader
// gets an error that names the file; with the identity it reads the
// message byte for byte.
func TestEncryptedReading(t *testing.T) {
	ctx := context.Background()
	keys := newKeys(t)
	root := t.TempDir()
	buildArchiveKeys(t, root, 3, backupKeys(keys)).Close()
	snap, err := OpenSnapshot(ctx, root, "acct")
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	folders, _ := snap.Folders(ctx, View{})
	f, _ := snap.Folder(folders[1].FolderState) // INBOX
	msgs, _ := snap.Messages(ctx, folders[1].ID, View{})
	path := filepath.Join(f.Dir, "cur", msgs[0].File)

	check := func(what string, want error) {
		t.Helper()
		_, err := f.OpenMessage(msgs[0])
		if !errors.Is(err, want) || !strings.Contains(err.Error(), path) || errors.Is(err, ErrDamaged) {
			t.Errorf("%s: OpenMessage: %v, want %v naming %s", what, err, want, path)
		}
		if err := snap.CheckIdentity(ctx); !errors.Is(err, want) {
			t.Errorf("%s: CheckIdentity: %v, want %v", what, err, want)
		}
	}
	check("no identity", ErrNoIdentity)
	snap.SetIdentities(newKeys(t).Identities)
	check("another identity", ErrWrongIdentity)

	snap.SetIdentities(keys.Identities)
	if err := snap.CheckIdentity(ctx); err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		want := fmt.Sprintf("Message-ID: <%d@x>\r\nSubject: %d\r\n\r\nbody %s\n", i+1, i+1, bytes.Repeat([]byte("x"), (i+1)*100))
		if got := readAll(t, f, m); string(got) != want {
			t.Errorf("%s reads %q", m.Key, got)
		}
	}
	// A second identity that is not a recipient changes nothing.
	snap.SetIdentities(append(newKeys(t).Identities, keys.Identities...))
	readAll(t, f, msgs[0])
}

// TestEncryptedDamage: damage anywhere in an encrypted file is found, and
// told apart from a wrong identity by the hash of the file as stored.
func TestEncryptedDamage(t *testing.T) {
	ctx := context.Background()
	keys := newKeys(t)
	a := buildArchiveKeys(t, t.TempDir(), 1, keys)
	folders, _ := a.Catalog.Folders(ctx)
	f, _ := openFolder(a.Dir, folders[1], a.codec)
	rows, _ := a.Catalog.FolderMessages(ctx, folders[1].ID)
	m := rows[0]
	path := filepath.Join(f.Dir, "cur", m.File)
	good, _ := os.ReadFile(path)
	if err := f.Check(m); err != nil {
		t.Fatal(err)
	}
	// The X25519 stanza's body, the header MAC, the payload.
	for _, at := range []int{len(ageMagic) + 70, bytes.Index(good, []byte("\n---")) + 8, len(good) - 5} {
		bad := bytes.Clone(good)
		bad[at] ^= 0x21
		os.WriteFile(path, bad, 0o600)
		if err := f.Check(m); !errors.Is(err, ErrDamaged) {
			t.Errorf("byte %d: Check: %v, want ErrDamaged", at, err)
		}
		rc, err := f.OpenMessage(m)
		if err == nil {
			_, err = io.ReadAll(rc)
			rc.Close()
		}
		if !errors.Is(err, ErrDamaged) {
			t.Errorf("byte %d: OpenMessage: %v, want ErrDamaged", at, err)
		}
	}
	os.WriteFile(path, good, 0o600)
}

// TestEncryptedVerify: verify without the identity checks every file
// against the hash it was stored with and finds and repairs what verify
// finds in a plain archive; a plain file in an encrypted archive is
// damage; with the identity it decodes too, and a wrong identity stops it
// before it repairs anything.
func TestEncryptedVerify(t *testing.T) {
	ctx := context.Background()
	keys := newKeys(t)
	a := buildArchiveKeys(t, t.TempDir(), 6, backupKeys(keys))
	rep, err := a.Verify(ctx, VerifyOptions{})
	if err != nil || len(rep.Problems) != 0 || rep.Messages != 12 || !rep.HashesOnly {
		t.Fatalf("clean encrypted archive: %+v, %v", rep, err)
	}
	files := curFiles(t, a, "INBOX")
	damage(t, a, files) // a missing file, a flipped byte, a wrong S=, an orphan, a temp file, a stray file
	// files[4] holds a plain zstd frame instead: half encrypted.
	os.WriteFile(files[4], encode(t, []byte("Subject: 5\r\n\r\nplain\r\n"), plainCodec), 0o600)

	rep, err = a.Verify(ctx, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{ProblemBadName, ProblemCorrupt, ProblemCorrupt, ProblemMissingFile, ProblemOrphanFile,
		ProblemStaleTemp, ProblemStrayFile}
	if got := kinds(rep); !slices.Equal(got, want) {
		t.Fatalf("problems %v, want %v:\n%v", got, want, rep.Problems)
	}
	for _, p := range rep.Problems {
		if p.Kind == ProblemOrphanFile && !strings.Contains(p.Detail, "needs the identity") {
			t.Errorf("orphan without a staged row: %s", p)
		}
	}

	// A wrong identity: verify stops, and moves nothing aside.
	w := openAs(t, a, &Keys{Recipients: keys.Recipients, Identities: newKeys(t).Identities})
	if _, err := w.Verify(ctx, VerifyOptions{Repair: true}); !errors.Is(err, ErrWrongIdentity) {
		t.Fatalf("wrong identity: %v", err)
	}
	if _, err := os.Stat(filepath.Join(w.Dir, "damaged")); err == nil {
		t.Fatal("a wrong identity moved files aside")
	}
	// The identity: the orphan is adopted by decoding it, and the rest
	// repaired as in a plain archive.
	w = openAs(t, w, keys)
	if _, err := w.Verify(ctx, VerifyOptions{Repair: true}); err != nil {
		t.Fatal(err)
	}
	rep, err = w.Verify(ctx, VerifyOptions{})
	if got := kinds(rep); err != nil || rep.HashesOnly || !slices.Equal(got, []string{ProblemRefetch, ProblemRefetch, ProblemRefetch, ProblemStrayFile}) {
		t.Fatalf("after repair: %v, %v", rep.Problems, err)
	}
	w = openAs(t, w, backupKeys(keys))
	if rep, err := w.Verify(ctx, VerifyOptions{}); err != nil || rep.Messages != 9 {
		t.Fatalf("without the identity after repair: %+v, %v", rep, err)
	}
}

// TestEncryptedAdoption: a crash between a batch's publication and its
// rows leaves files with staged rows, and they are adopted without the
// identity, exactly as they were to be recorded; staged rows of files
// never published are dropped. A file without a staged row needs the
// identity.
func TestEncryptedAdoption(t *testing.T) {
	ctx := context.Background()
	keys := newKeys(t)
	a := buildArchiveKeys(t, t.TempDir(), 3, backupKeys(keys))
	folders, _ := a.Catalog.Folders(ctx)
	inbox := folders[1]
	f, _ := a.Folder(inbox.Name, '/')
	before, _ := a.Catalog.FolderMessages(ctx, inbox.ID)

	// The crash: rows staged, files published, rows never recorded; and
	// one more staged row whose file stayed in tmp/.
	for _, m := range before[:2] {
		a.Catalog.deleteMessage(ctx, m.ID)
	}
	ghost := before[2]
	ghost.Key, ghost.File = IMAPKey(7, 99), "m7.99,S=1,W=1:2,"
	if err := a.Catalog.stage(ctx, append(slices.Clone(before[:2]), ghost)); err != nil {
		t.Fatal(err)
	}
	run, _ := a.Catalog.BeginRun(ctx, "imap", time.Now())
	n, err := a.AdoptOrphans(ctx, f, inbox.ID, run)
	if err != nil || n != 2 {
		t.Fatalf("adopted %d, %v", n, err)
	}
	after, _ := a.Catalog.FolderMessages(ctx, inbox.ID)
	strip := func(ms []Message) []string {
		var out []string
		for _, m := range ms {
			out = append(out, fmt.Sprintf("%s %s %x %x %d %d %v %s %d", m.Key, m.File, m.SHA256, m.FileSHA256,
				m.Size, m.VSize, m.Flags, m.MessageID, m.InternalDate.Unix()))
		}
		slices.Sort(out)
		return out
	}
	if got, want := strip(after), strip(before); !slices.Equal(got, want) {
		t.Errorf("adopted rows differ:\n%v\n%v", got, want)
	}
	if staged, _ := a.Catalog.staged(ctx, inbox.ID); len(staged) != 0 {
		t.Errorf("staged rows left: %v", staged)
	}

	// An orphan without a staged row, and a staged file that was changed.
	a.Catalog.deleteMessage(ctx, after[0].ID)
	_, err = a.AdoptOrphans(ctx, f, inbox.ID, run)
	if !errors.Is(err, ErrNoIdentity) || !strings.Contains(err.Error(), "verify --repair") {
		t.Errorf("orphan without a staged row: %v", err)
	}
	a.Catalog.stage(ctx, []Message{after[0]})
	path := filepath.Join(f.Dir, "cur", after[0].File)
	data, _ := os.ReadFile(path)
	data[len(data)-3] ^= 1
	os.WriteFile(path, data, 0o600)
	if _, err := a.AdoptOrphans(ctx, f, inbox.ID, run); !errors.Is(err, ErrDamaged) {
		t.Errorf("changed staged file: %v", err)
	}
	if rows, _ := a.Catalog.FolderMessages(ctx, inbox.ID); len(rows) != 2 {
		t.Errorf("%d rows after refused adoptions, want 2", len(rows))
	}
}

// TestEncryptedRebuild: rebuilding an encrypted archive's catalog decodes
// every file, so it needs the identity; without one, or with another, the
// catalog stays as it is.
func TestEncryptedRebuild(t *testing.T) {
	ctx := context.Background()
	keys := newKeys(t)
	a := buildArchiveKeys(t, t.TempDir(), 4, backupKeys(keys))
	before := allMessages(t, a)
	for _, k := range []*Keys{backupKeys(keys), {Recipients: keys.Recipients, Identities: newKeys(t).Identities}} {
		a = openAs(t, a, k)
		if _, err := a.RebuildCatalog(ctx, time.Now()); !identityError(err) {
			t.Fatalf("rebuild with identities %v: %v", k.Identities, err)
		}
		if m, _ := filepath.Glob(filepath.Join(a.Dir, "catalog.db.replaced-*")); len(m) != 0 {
			t.Fatalf("the catalog was replaced: %v", m)
		}
	}
	a = openAs(t, a, keys)
	if rep, err := a.RebuildCatalog(ctx, time.Now()); err != nil || rep.Messages != 8 || len(rep.Problems) != 0 {
		t.Fatalf("rebuild: %+v, %v", rep, err)
	}
	if after := allMessages(t, a); !slices.Equal(before, after) {
		t.Fatalf("rebuilt catalog differs:\n%v\n%v", before, after)
	}
	a = openAs(t, a, backupKeys(keys)) // the stored hashes are back
	if rep, err := a.Verify(ctx, VerifyOptions{}); err != nil || len(rep.Problems) != 0 || rep.Messages != 8 {
		t.Fatalf("verify after rebuild: %+v, %v", rep, err)
	}
}

// TestNoRecipients: a writer with an identity but no recipient cannot
// write a message, and says why.
func TestNoRecipients(t *testing.T) {
	keys := newKeys(t)
	a, err := OpenWriterKeys(context.Background(), t.TempDir(), "acct", nil, &Keys{Identities: keys.Identities})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	f, _ := a.Folder("INBOX", '/')
	sp, _ := NewSpool("")
	if _, err := sp.Write(f, strings.NewReader("x")); !errors.Is(err, ErrNoRecipients) {
		t.Fatalf("write without recipients: %v", err)
	}
	if left, _ := os.ReadDir(filepath.Join(f.Dir, "tmp")); len(left) != 0 {
		t.Fatalf("temp files left: %v", left)
	}
}

// sampleEncrypted is the encrypted sample archive under testdata, with the
// identity that reads it (a key for this test alone).
const sampleEncrypted = "testdata/format2-schema6"

// TestWriteSampleEncrypted writes the encrypted sample archive when
// MAILKEEP_WRITE_SAMPLE is set: run it for a new format or catalog
// schema, into a directory of its own, and keep the older samples.
func TestWriteSampleEncrypted(t *testing.T) {
	dir := os.Getenv("MAILKEEP_WRITE_SAMPLE")
	if dir == "" {
		t.Skip("MAILKEEP_WRITE_SAMPLE is not set")
	}
	id, _ := age.GenerateX25519Identity()
	keys := &Keys{Recipients: []age.Recipient{id.Recipient()}}
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "identity.txt"), []byte("# test key of the sample archive\n"+id.String()+"\n"), 0o644)
	ctx := context.Background()
	a, err := OpenWriterKeys(ctx, dir, "sample", nil, keys)
	if err != nil {
		t.Fatal(err)
	}
	run, _ := a.Catalog.BeginRun(ctx, "imap", time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	sp, _ := NewSpool("")
	for _, name := range []string{"INBOX", "Archive/2024", "Entwürfe"} {
		f, _ := a.Folder(name, '/')
		st, _ := a.Catalog.EnsureFolder(ctx, f, run)
		var b Batch
		var rows []Message
		for uid := 1; uid <= 3; uid++ {
			raw := fmt.Sprintf("Message-ID: <%d.%s@sample>\r\nSubject: %s %d\r\n\r\n%s\r\n", uid, f.Rel, name, uid,
				strings.Repeat("sample text ", uid*4))
			s, _ := sp.Write(f, strings.NewReader(raw))
			date := time.Date(2024, 5, uid, 9, 0, 0, 0, time.FixedZone("", 7200))
			mf, _ := b.Add(s, IMAPKey(7, uint32(uid)), "S", date)
			rows = append(rows, Message{FolderID: st.ID, UIDValidity: 7, UID: uint32(uid), Key: IMAPKey(7, uint32(uid)),
				File: mf.Name(), SHA256: s.SHA256, Size: s.Size, VSize: s.VSize, InternalDate: date,
				Flags: []string{`\Seen`}, MessageID: s.MessageID, FileSHA256: s.FileSHA256})
		}
		if err := a.Publish(ctx, &b, rows, run); err != nil {
			t.Fatal(err)
		}
		st.UIDValidity, st.UIDNext, st.Messages = 7, 4, 3
		a.Catalog.SetFolderState(ctx, st, run)
	}
	a.Catalog.FinishRun(ctx, run, OutcomeOK, RunStats{Folders: 3, NewMessages: 9}, nil, time.Date(2026, 12, 1, 10, 0, 1, 0, time.UTC))
	a.Catalog.db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	a.Close()
	for _, f := range []string{"lock", "catalog.db-wal", "catalog.db-shm"} {
		os.Remove(filepath.Join(dir, "sample", f))
	}
}

// TestSampleEncrypted: the encrypted archive written by an earlier build
// (under testdata) still reads with its identity, and verifies with and
// without it.
func TestSampleEncrypted(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	copyTree(t, sampleEncrypted, root)
	f, err := os.Open(filepath.Join(sampleEncrypted, "identity.txt"))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := age.ParseIdentities(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	snap, err := OpenSnapshot(ctx, root, "sample")
	if err != nil {
		t.Fatal(err)
	}
	snap.SetIdentities(ids)
	folders, err := snap.Folders(ctx, View{})
	if err != nil || len(folders) != 3 {
		t.Fatalf("folders %+v, %v", folders, err)
	}
	n := 0
	for _, fo := range folders {
		msgs, _ := snap.Messages(ctx, fo.ID, View{})
		rf, _ := snap.Folder(fo.FolderState)
		for _, m := range msgs {
			if data := readAll(t, rf, m); !bytes.Contains(data, []byte("@sample>")) {
				t.Errorf("%s: %q", m.Key, data)
			}
			n++
		}
	}
	if gm, err := snap.Gmail(ctx, folders[0].ID); err != nil || len(gm) != 0 {
		t.Errorf("Gmail columns of a schema 6 catalog, read-only: %v, %v", gm, err)
	}
	snap.Close()
	if n != 9 {
		t.Fatalf("%d messages, want 9", n)
	}
	for _, k := range []*Keys{{}, {Identities: ids}} {
		w, err := OpenWriterKeys(ctx, root, "sample", nil, k) // migrates to the newest schema
		if err != nil {
			t.Fatal(err)
		}
		msgs, _ := w.Catalog.FolderMessages(ctx, folders[0].ID)
		if found, err := w.Catalog.ContentBySHA256(ctx, msgs[0].SHA256); err != nil || len(found) != 1 ||
			found[0].FileSHA256 != msgs[0].FileSHA256 {
			t.Errorf("content index after migration: %+v, %v", found, err)
		}
		rep, err := w.Verify(ctx, VerifyOptions{})
		w.Close()
		if err != nil || len(rep.Problems) != 0 || rep.Messages != 9 || rep.HashesOnly != (k.Identities == nil) {
			t.Fatalf("verify with %d identities: %+v, %v", len(k.Identities), rep, err)
		}
	}
}

// TestPostQuantumRecipient: an archive encrypted to a post-quantum
// (ML-KEM-768 + X25519) recipient reads back with its identity.
func TestPostQuantumRecipient(t *testing.T) {
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	keys := &Keys{Recipients: []age.Recipient{id.Recipient()}, Identities: []age.Identity{id}}
	c := &codec{encrypted: true, recipients: keys.Recipients, identities: keys.Identities}
	msg := testMessage(100<<10, 9)
	file := encode(t, msg, c)
	if !bytes.Contains(file[:200], []byte("-> mlkem768x25519 ")) {
		t.Fatalf("no ML-KEM stanza: %q", file[:100])
	}
	rc, err := decode(bytes.NewReader(file), c)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got, err := io.ReadAll(rc); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("round trip: %v", err)
	}
}
