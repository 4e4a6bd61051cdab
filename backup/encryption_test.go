package backup_test

import (
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/emersion/go-imap/v2"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
	"github.com/mailkeep/mailkeep/transport"
)

// ageKeys returns an identity and the keys a backup host holds for it:
// the recipient alone.
func ageKeys(t *testing.T) (*age.X25519Identity, *archive.Keys) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id, &archive.Keys{Recipients: []age.Recipient{id.Recipient()}}
}

// encryptedBackup runs one IMAP backup of alice into an encrypted archive
// with keys.
func encryptedBackup(t *testing.T, root string, dial transport.IMAPDialer, keys *archive.Keys) (backup.Result, error) {
	t.Helper()
	a, err := archive.OpenWriterKeys(t.Context(), root, "alice", nil, keys)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	res, err := backup.IMAP(t.Context(), a, backup.Options{Dial: dial, Settings: backup.Settings{BatchMessages: 16}})
	t.Logf("run %d: %s %+v in %v, %v", res.RunID, res.Outcome, res.Stats, res.Duration, err)
	return res, err
}

func mustEncryptedBackup(t *testing.T, root string, dial transport.IMAPDialer, keys *archive.Keys) backup.Result {
	t.Helper()
	res, err := encryptedBackup(t, root, dial, keys)
	if err != nil || res.Outcome != archive.OutcomeOK {
		t.Fatalf("backup: %s, %v", res.Outcome, err)
	}
	return res
}

// readArchive reads alice's encrypted archive through the read view with
// the identity, in the form takeSnapshot gives the server's folders:
// every message's content hash and size, flags and date.
func readArchive(t *testing.T, root string, id age.Identity) snapshot {
	t.Helper()
	ctx := t.Context()
	snap, err := archive.OpenSnapshot(ctx, root, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	snap.SetIdentities([]age.Identity{id})
	if err := snap.CheckIdentity(ctx); err != nil {
		t.Fatal(err)
	}
	folders, err := snap.Folders(ctx, archive.View{})
	if err != nil {
		t.Fatal(err)
	}
	out := snapshot{}
	for _, vf := range folders {
		f, err := snap.Folder(vf.FolderState)
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := snap.Messages(ctx, vf.ID, archive.View{})
		if err != nil {
			t.Fatal(err)
		}
		lines := []string{}
		for _, m := range msgs {
			rc, err := f.OpenMessage(m)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatalf("%s %s: %v", vf.Name, m.Key, err)
			}
			var flags []imap.Flag
			for _, fl := range m.Flags {
				flags = append(flags, imap.Flag(fl))
			}
			lines = append(lines, fmt.Sprintf("%x %d %v %s", sha256.Sum256(raw), len(raw), flagStrings(flags),
				m.InternalDate.UTC().Format(time.RFC3339)))
		}
		slices.Sort(lines)
		out[vf.Name] = lines
	}
	return out
}

// sameAsServer compares the server's folders with the encrypted archive
// read with the identity: message for message, byte for byte.
func sameAsServer(t *testing.T, want, got snapshot) {
	t.Helper()
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("folder %q missing from the archive (have %v)", name, keys(got))
			continue
		}
		if missing := diff(w, g); len(missing) > 0 {
			t.Errorf("folder %q: %d of %d messages differ; first wanted: %s", name, len(missing), len(w), missing[0])
		}
	}
}

// ageFiles checks that every message file under root is an age file and
// returns how many there are.
func ageFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(filepath.Join(dir, "mail"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Base(filepath.Dir(path)) != "cur" {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		head := make([]byte, 22)
		io.ReadFull(f, head)
		if string(head) != "age-encryption.org/v1\n" {
			t.Errorf("%s is not an age file: %q", path, head)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// verifyWith verifies alice's archive with keys and wants it clean.
func verifyWith(t *testing.T, root string, keys *archive.Keys, messages int) {
	t.Helper()
	a, err := archive.OpenWriterKeys(t.Context(), root, "alice", nil, keys)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	rep, err := a.Verify(t.Context(), archive.VerifyOptions{})
	if err != nil || len(rep.Problems) != 0 || rep.Messages != messages || rep.HashesOnly != (len(keys.Identities) == 0) {
		t.Fatalf("verify (%d identities): %+v, %v", len(keys.Identities), rep, err)
	}
}

// TestEncryptedDovecot backs a corpus up from Dovecot into an encrypted
// archive with the recipient alone, reads it back with the identity and
// compares every message, its flags and date with the server; then new
// mail, a flag change and a deletion. Verify is clean with and without
// the identity, and nothing reads a message without it.
func TestEncryptedDovecot(t *testing.T) {
	ctx := t.Context()
	srv := dovecottest.Start(t, dovecottest.Options{})
	msgs := corpus.Generate(corpus.Options{Seed: 17, Count: 120, Big: 5 << 20})
	src := srv.Dial(t, "alice")
	if err := corpus.Load(ctx, src, msgs); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	dial := dialer(srv, "alice")
	id, keys := ageKeys(t)

	if res := mustEncryptedBackup(t, root, dial, keys); res.Stats.NewMessages != len(msgs) {
		t.Fatalf("first run stored %d, want %d", res.Stats.NewMessages, len(msgs))
	}
	sameAsServer(t, takeSnapshot(t, src), readArchive(t, root, id))
	if n := ageFiles(t, filepath.Join(root, "alice")); n != len(msgs) {
		t.Fatalf("%d message files, want %d", n, len(msgs))
	}

	appendMessage(t, src, "INBOX", 1, imap.FlagFlagged)
	if _, err := src.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := src.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagAnswered, "$Work"}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := src.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := src.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	res := mustEncryptedBackup(t, root, dial, keys)
	if s := res.Stats; s.NewMessages != 1 || s.FlagUpdates < 1 || s.Gone != 1 {
		t.Fatalf("incremental run: %+v", s)
	}
	sameAsServer(t, takeSnapshot(t, src), readArchive(t, root, id))

	verifyWith(t, root, keys, len(msgs)+1)
	verifyWith(t, root, &archive.Keys{Identities: []age.Identity{id}}, len(msgs)+1)

	snap, err := archive.OpenSnapshot(ctx, root, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	if err := snap.CheckIdentity(ctx); !errors.Is(err, archive.ErrNoIdentity) {
		t.Errorf("reading without the identity: %v", err)
	}
	if _, err := archive.OpenWriter(ctx, root, "alice", nil); !errors.Is(err, archive.ErrEncryption) {
		t.Errorf("a backup without encryption configured: %v", err)
	}
}

// crashCatalog edits alice's catalog as a crash would have left it: a run
// that never finished, and for each of uids the row gone from messages,
// staged or not.
func crashCatalog(t *testing.T, root string, staged bool, uids ...int) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(root, "alice", "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	qs := []string{`INSERT INTO runs (kind, started, outcome) VALUES ('imap', '2026-12-01T00:00:00Z', 'running')`}
	for _, uid := range uids {
		if staged {
			qs = append(qs, fmt.Sprintf(`INSERT INTO staged (folder_id, uidvalidity, uid, uidl, key, file, sha256, size,
				vsize, internaldate, flags, message_id, file_sha256) SELECT folder_id, uidvalidity, uid, uidl, key,
				file, sha256, size, vsize, internaldate, flags, message_id, file_sha256 FROM messages WHERE uid = %d`, uid))
		}
		qs = append(qs, fmt.Sprintf(`DELETE FROM flag_history WHERE message IN (SELECT id FROM messages WHERE uid = %d)`, uid),
			fmt.Sprintf(`DELETE FROM messages WHERE uid = %d`, uid))
	}
	for _, q := range qs {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
}

// TestEncryptedAdoption: a backup host without the identity adopts the
// files a crash left between their publication and their rows, from the
// rows staged before: nothing is fetched twice. A file without a staged
// row (which only a damaged catalog leaves) stops the run with an error
// that says what to do, and verify --repair with the identity adopts it.
func TestEncryptedAdoption(t *testing.T) {
	ctx := t.Context()
	src, dial, root := aliceOnDovecot(t)
	for i := 1; i <= 4; i++ {
		appendMessage(t, src, "INBOX", i)
	}
	id, keys := ageKeys(t)
	mustEncryptedBackup(t, root, dial, keys)

	crashCatalog(t, root, true, 2, 3)
	appendMessage(t, src, "INBOX", 5)
	if s := mustEncryptedBackup(t, root, dial, keys).Stats; s.NewMessages != 1 {
		t.Fatalf("%+v: want only message 5 fetched, messages 2 and 3 adopted", s)
	}
	sameAsServer(t, takeSnapshot(t, src), readArchive(t, root, id))

	crashCatalog(t, root, false, 4)
	appendMessage(t, src, "INBOX", 6)
	res, err := encryptedBackup(t, root, dial, keys)
	if err == nil || !errors.Is(err, archive.ErrNoIdentity) || !strings.Contains(err.Error(), "verify --repair") {
		t.Fatalf("orphan without a staged row: %s, %v", res.Outcome, err)
	}
	a, err := archive.OpenWriterKeys(ctx, root, "alice", nil, &archive.Keys{Identities: []age.Identity{id}})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := a.Verify(ctx, archive.VerifyOptions{Repair: true})
	a.Close()
	if err != nil || len(rep.Problems) != 1 || !rep.Problems[0].Repaired {
		t.Fatalf("verify --repair with the identity: %+v, %v", rep, err)
	}
	if s := mustEncryptedBackup(t, root, dial, keys).Stats; s.NewMessages != 1 {
		t.Fatalf("%+v: want message 6 fetched, and only it", s)
	}
	sameAsServer(t, takeSnapshot(t, src), readArchive(t, root, id))
	verifyWith(t, root, keys, 6)
}

// TestEncryptedPOP3Delete: POP3 delete mode checks each copy archived by
// an earlier run before the server deletes it, without the identity:
// against the hash the file was stored with. A damaged copy keeps its
// message on the server.
func TestEncryptedPOP3Delete(t *testing.T) {
	ctx := t.Context()
	srv := dovecottest.Start(t, dovecottest.Options{})
	_, msgs := inboxCorpus(23, 30, 2<<20)
	load(t, srv, "bob", msgs)
	want := serverBodies(t, srv, "bob")
	root := t.TempDir()
	id, keys := ageKeys(t)
	run := func(del bool) (backup.Result, error) {
		a, err := archive.OpenWriterKeys(ctx, root, pop3Account, nil, keys)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		opts := dovecotOptions(srv, "bob", nil)
		opts.Delete, opts.BatchMessages = del, 7
		res, err := backup.POP3(ctx, a, opts)
		t.Logf("run %d: %s %+v, %v", res.RunID, res.Outcome, res.Stats, err)
		return res, err
	}
	if res, err := run(false); err != nil || res.Stats.NewMessages != len(msgs) {
		t.Fatalf("keep: %+v, %v", res.Stats, err)
	}
	// Damage one archived file.
	cur := filepath.Join(root, pop3Account, "mail", "INBOX", archive.MaildirLevel, "cur")
	files, _ := os.ReadDir(cur)
	victim := filepath.Join(cur, files[3].Name())
	data, _ := os.ReadFile(victim)
	data[len(data)-2] ^= 0x10
	os.WriteFile(victim, data, 0o600)

	res, err := run(true)
	if !errors.Is(err, backup.ErrPartial) || res.Stats.ServerDeleted != len(msgs)-1 {
		t.Fatalf("delete: %s %+v, %v; want %d deleted, partial", res.Outcome, res.Stats, err, len(msgs)-1)
	}
	left := serverBodies(t, srv, "bob")
	if len(left) != 1 {
		t.Fatalf("%d messages left on the server, want the damaged one", len(left))
	}
	// The rest of the archive reads back with the identity, byte for byte.
	snap, err := archive.OpenSnapshot(ctx, root, pop3Account)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	snap.SetIdentities([]age.Identity{id})
	folders, _ := snap.Folders(ctx, archive.View{})
	f, _ := snap.Folder(folders[0].FolderState)
	rows, _ := snap.Messages(ctx, folders[0].ID, archive.View{})
	var got []string
	for _, m := range rows {
		rc, err := f.OpenMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			if !errors.Is(err, archive.ErrDamaged) || m.File != files[3].Name() {
				t.Errorf("%s: %v", m.Key, err)
			}
			continue
		}
		got = append(got, string(b))
	}
	slices.Sort(got)
	kept := slices.DeleteFunc(pop3Forms(want), func(w string) bool { return w == pop3Forms(left)[0] })
	sameStrings(t, "archive", got, kept)
}
