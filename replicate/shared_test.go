package replicate_test

import (
	"testing"

	"filippo.io/age"
	"github.com/emersion/go-imap/v2"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/replicate"
)

// TestSharedContentSentOnce: a content that the archive stores once for
// several folders (INBOX copied to another folder with COPY, so as hard
// links) is sent once, and the replica reads back every folder's row;
// in a plain and in an encrypted archive.
func TestSharedContentSentOnce(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		keys *archive.Keys
	}{
		{"plain", nil},
		{"encrypted", &archive.Keys{Recipients: []age.Recipient{id.Recipient()}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixtureKeys(t, 20, tc.keys)
			before := run(t, f, replicaDir(t), replicate.Options{})
			copied := copyInbox(t, f, "Copy")
			if res := f.backup(t); res.Stats.Linked != copied || copied == 0 {
				t.Fatalf("backup of the copy: %+v, want %d links", res.Stats, copied)
			}
			st := replicaDir(t)
			res := run(t, f, st, replicate.Options{})
			if res.Objects != before.Objects || res.Sent != res.Objects || res.Messages != f.n+copied {
				t.Fatalf("replicate: %+v; want the %d objects of %d messages before the copy", res, before.Objects, before.Messages)
			}
			check(t, st, f.n+copied)
			if tc.keys == nil {
				sameAsArchive(t, f, st)
			}
		})
	}
}

func replicaDir(t *testing.T) replicate.Store {
	t.Helper()
	st, err := replicate.NewDir(t.TempDir(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// copyInbox copies every message of INBOX on the server into a new folder
// and returns how many it copied.
func copyInbox(t *testing.T, f *fixture, to string) int {
	t.Helper()
	c := f.srv.Dial(t, "alice")
	if err := c.Create(to, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Copy(imap.SeqSet{{Start: 1, Stop: 0}}, to).Wait(); err != nil {
		t.Fatal(err)
	}
	return int(sel.NumMessages)
}
