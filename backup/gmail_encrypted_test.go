package backup_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/internal/gmailfake"
)

// TestGmailEncrypted: in an encrypted archive, backed up with the
// recipient alone, a message in four folders is stored once (one age
// file, four names), in the run that found it and in a later one: on
// Gmail, found by X-GM-MSGID and downloaded once; on a generic server,
// found by its SHA-256 after each download. Verify checks each content
// once, with the identity and without it.
func TestGmailEncrypted(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts gmailfake.Options
	}{
		{"gmail", gmailfake.Options{}},
		{"generic", gmailfake.Options{Generic: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := gmailfake.StartWith(t, gmailMessages(), tc.opts)
			root := t.TempDir()
			id, keys := ageKeys(t)
			dial := dialVia(srv.Addr, srv.User, srv.Password, 0)
			if s := mustEncryptedBackup(t, root, dial, keys).Stats; s.NewMessages != 8 || s.Linked != 4 {
				t.Errorf("stats %+v: want 8 new messages, 4 of them links", s)
			}
			srv.Add(&gmailfake.Message{Raw: "Message-ID: <5@gmail.test>\r\n\r\nnew\r\n",
				Date: time.Now().Truncate(time.Second), Labels: []string{`\Inbox`, "Work"}})
			if s := mustEncryptedBackup(t, root, dial, keys).Stats; s.NewMessages != 3 || s.Linked != 2 {
				t.Errorf("second run %+v: want 3 new rows, 2 of them links", s)
			}
			names := ageNames(t, filepath.Join(root, "alice", "mail"))
			if len(names) != 4 || names[4] != 1 || names[3] != 1 || names[2] != 1 || names[1] != 2 {
				t.Errorf("files by their number of names: %v; want one with 4 (the first message), one with 3 "+
					"(the new one), one with 2 (sent) and two with 1 (archived, trash)", names)
			}
			verifyWith(t, root, keys, 11)
			verifyWith(t, root, &archive.Keys{Identities: []age.Identity{id}}, 11)
		})
	}
}

// ageNames counts the archive's message files by their number of names.
func ageNames(t *testing.T, dir string) map[uint64]int {
	t.Helper()
	out := map[uint64]int{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Base(filepath.Dir(p)) != "cur" {
			return err
		}
		out[links(t, p)]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for n := range out {
		out[n] /= int(n) // each file once, not once per name
	}
	return out
}
