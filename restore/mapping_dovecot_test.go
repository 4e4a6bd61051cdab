package restore_test

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/internal/dovecottest"
	"github.com/mailkeep/mailkeep/restore"
)

var testDate = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// TestRestoreSchema3Archive restores an archive of a prefixed server that
// predates catalog schema 5 (here: of schema 3), so records neither
// namespace nor special use: the source's INBOX. prefix is inferred from the folder names, and
// special-use folders are known by their names.
func TestRestoreSchema3Archive(t *testing.T) {
	t.Parallel()
	src := dovecotServer(t, "Dovecot INBOX.", dovecottest.Options{Users: []string{"alice"}, Prefix: "INBOX.", Separator: "."})
	dst := dovecotServer(t, "Dovecot", dovecottest.Options{Users: []string{"bob"},
		SpecialUse: map[string]string{"Gesendet": `\Sent`, "Papierkorb": `\Trash`}})
	c := src.dial(t, "alice")
	for _, name := range []string{"INBOX.Sent", "INBOX.Trash", "INBOX.Projects", "INBOX.Projects.2024"} {
		if err := c.Create(name, nil).Wait(); err != nil {
			t.Fatal(err)
		}
		if err := appendOne(c, name, "Subject: in "+name+"\r\nMessage-ID: <"+name+"@x>\r\n\r\nbody\r\n", nil, testDate); err != nil {
			t.Fatal(err)
		}
	}
	root := t.TempDir()
	backupAccount(t, src, root, "alice")
	db, err := sql.Open("sqlite", filepath.Join(root, "alice", "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`ALTER TABLE folders DROP COLUMN special_use`, `DROP TABLE account_meta`,
		`DROP TABLE pruned`, `DROP TABLE prunes`, `PRAGMA user_version = 3`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	res, _ := runRestore(t, root, "alice", restore.Options{Dial: dialer(dst.addr, "bob", dst.password("bob"))})
	if res.Failed != 0 || res.Appended != 4 || res.Mapping.SourcePrefix != "INBOX." || res.Mapping.SourcePrefixFrom != "names" {
		t.Fatalf("restore: %+v", res)
	}
	want := map[string]string{"INBOX": "INBOX", "INBOX.Sent": "Gesendet", "INBOX.Trash": "Papierkorb",
		"INBOX.Projects": "Projects", "INBOX.Projects.2024": "Projects/2024"}
	for _, fm := range res.Mapping.Folders {
		if fm.Target != want[fm.Source] {
			t.Errorf("%q → %q (%s %s), want %q", fm.Source, fm.Target, fm.Rule, fm.Role, want[fm.Source])
		}
	}
	got := takeSnapshot(t, dst.dial(t, "bob"))
	for _, name := range []string{"Gesendet", "Papierkorb", "Projects", "Projects/2024"} {
		if len(got[name]) != 1 {
			t.Errorf("%q holds %d messages, want 1", name, len(got[name]))
		}
	}
}
