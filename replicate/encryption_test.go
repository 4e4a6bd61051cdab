package replicate_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/replicate"
)

// TestEncryptedReplica: an encrypted archive replicates on a host without
// the identity (each file is checked against the hash it was stored with
// before it is sent), the replica holds the age files as they are, checks
// clean without the identity, and reads back with it. A damaged file is
// not sent.
func TestEncryptedReplica(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureKeys(t, 20, &archive.Keys{Recipients: []age.Recipient{id.Recipient()}})
	dir := t.TempDir()
	st, err := replicate.NewDir(dir, "alice")
	if err != nil {
		t.Fatal(err)
	}
	res := run(t, f, st, replicate.Options{})
	if res.Sent != res.Objects || res.Sent == 0 {
		t.Fatalf("first run: %+v", res)
	}
	check(t, st, f.n)

	// The same messages in a folder that sorts before INBOX, with other
	// dates: each copy is a file encrypted on its own, and the replica
	// checks each against the row it was sent for.
	f.appendCopies(t, "Aaa", 3)
	f.backup(t)
	if res = run(t, f, st, replicate.Options{}); res.Sent != 3 {
		t.Fatalf("after copying 3 messages: %+v", res)
	}
	f.n += 3
	check(t, st, f.n)

	objects := 0
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Base(filepath.Dir(path)) == "alice" {
			return err
		}
		file, err := os.Open(path)
		if err != nil {
			return err
		}
		defer file.Close()
		head := make([]byte, 22)
		if io.ReadFull(file, head); string(head) == "age-encryption.org/v1\n" {
			objects++
		}
		return nil
	})
	if objects != res.Objects {
		t.Errorf("%d of %d objects are age files", objects, res.Objects)
	}

	rp, err := replicate.Open(t.Context(), st, "")
	if err != nil {
		t.Fatal(err)
	}
	defer rp.Close()
	if err := rp.CheckIdentity(t.Context()); !errors.Is(err, archive.ErrNoIdentity) {
		t.Errorf("reading the replica without the identity: %v", err)
	}
	rp.SetIdentities([]age.Identity{id})
	snap, err := archive.OpenSnapshot(t.Context(), f.root, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	snap.SetIdentities([]age.Identity{id})
	all := archive.View{Gone: archive.GoneToo}
	want, got := contents(t, snap, all), contents(t, rp.Snapshot, all)
	if len(want) != len(got) || len(got) != f.n {
		t.Fatalf("replica holds %d messages, archive %d", len(got), len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Fatalf("message %s differs in the replica", k)
		}
	}

	files, _ := filepath.Glob(filepath.Join(f.root, "alice", "mail", "INBOX", ".mk", "cur", "*"))
	data, _ := os.ReadFile(files[0])
	data[len(data)/2] ^= 0xff
	os.WriteFile(files[0], data, 0o600)
	fresh, err := replicate.NewDir(t.TempDir(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	res, err = replicate.Run(t.Context(), f.root, "alice", fresh, replicate.Options{})
	if !errors.Is(err, replicate.ErrPartial) || len(res.Missing) != 1 || res.Sent != res.Objects-1 {
		t.Fatalf("damaged file: %v, %+v", err, res)
	}
}
