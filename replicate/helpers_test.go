package replicate_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	_ "modernc.org/sqlite"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/memservertest"
	"github.com/mailkeep/mailkeep/internal/s3test"
	"github.com/mailkeep/mailkeep/replicate"
	"github.com/mailkeep/mailkeep/transport"
)

// fixture is an IMAP server with mail and an archive of it.
type fixture struct {
	srv  *memservertest.Server
	root string
	n    int // messages on the server
}

func newFixture(t *testing.T, count int) *fixture {
	t.Helper()
	srv := memservertest.Start(t, memservertest.Options{})
	msgs := corpus.Generate(corpus.Options{Seed: 3, Count: count, Big: 300 << 10})
	if err := corpus.Load(t.Context(), srv.Dial(t, "alice"), msgs); err != nil {
		t.Fatal(err)
	}
	f := &fixture{srv: srv, root: t.TempDir(), n: len(msgs)}
	f.backup(t)
	return f
}

func (f *fixture) dial(ctx context.Context) (*imapclient.Client, error) {
	host, port, _ := strings.Cut(f.srv.IMAPAddr, ":")
	var p int
	fmt.Sscan(port, &p)
	ep := transport.Endpoint{Host: host, Port: p, TLS: config.TLSNone, Username: "alice",
		Secret: func(context.Context) (string, error) { return f.srv.Password("alice"), nil }}
	return transport.DialIMAP(ctx, ep, transport.IMAPOptions{})
}

func (f *fixture) backup(t *testing.T) backup.Result {
	t.Helper()
	a, err := archive.OpenWriter(t.Context(), f.root, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	res, err := backup.IMAP(t.Context(), a, backup.Options{Dial: f.dial, Connections: 2})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	return res
}

// flag sets \Flagged on the first n messages of INBOX on the server.
func (f *fixture) flag(t *testing.T, n int) {
	t.Helper()
	c := f.srv.Dial(t, "alice")
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	set := imap.SeqSet{}
	set.AddRange(1, uint32(n))
	if err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
}

// add appends n new messages to the server.
func (f *fixture) add(t *testing.T, n int) {
	t.Helper()
	more := corpus.More(corpus.Options{Seed: 3, Folders: []string{"INBOX", "Archive"}}, n, 10000+f.n)
	if err := corpus.Load(t.Context(), f.srv.Dial(t, "alice"), more); err != nil {
		t.Fatal(err)
	}
	f.n += n
}

// prune removes n message rows and their files from the archive, as
// prune does, in a run of its own.
func (f *fixture) prune(t *testing.T, n int) {
	t.Helper()
	dir := filepath.Join(f.root, "alice")
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO runs (kind, started, ended, outcome) VALUES ('prune', ?, ?, 'ok')`,
		time.Now().UTC().Format(time.RFC3339Nano), time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(`SELECT m.id, f.dir, m.file FROM messages m JOIN folders f ON f.id = m.folder_id
		WHERE m.size < 100000 ORDER BY m.id LIMIT ?`, n)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		id        int64
		dir, file string
	}
	var rs []row
	for rows.Next() {
		var r row
		rows.Scan(&r.id, &r.dir, &r.file)
		rs = append(rs, r)
	}
	rows.Close()
	for _, r := range rs {
		for _, q := range []string{`DELETE FROM flag_history WHERE message = ?`, `DELETE FROM messages WHERE id = ?`} {
			if _, err := db.Exec(q, r.id); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Remove(filepath.Join(dir, "mail", r.dir, ".mk", "cur", r.file)); err != nil {
			t.Fatal(err)
		}
	}
}

// stores returns makers of directory stores and of S3 stores (of one
// versitygw, each under a prefix of the test's and the given name).
func stores(t *testing.T) (map[string]func(t *testing.T, name string) replicate.Store, *s3test.Server) {
	srv := s3test.Start(t, "mail")
	return map[string]func(t *testing.T, name string) replicate.Store{
		"dir": func(t *testing.T, _ string) replicate.Store {
			st, err := replicate.NewDir(t.TempDir(), "alice")
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
		"s3": func(t *testing.T, name string) replicate.Store {
			return newS3(t, srv, t.Name()+"/"+name)
		},
	}, srv
}

func newS3(t *testing.T, srv *s3test.Server, prefix string) *replicate.S3 {
	t.Helper()
	st, err := replicate.NewS3(t.Context(), replicate.S3Options{Endpoint: srv.Endpoint, Bucket: "mail",
		Prefix: prefix, AccessKey: s3test.AccessKey, SecretKey: s3test.SecretKey}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func run(t *testing.T, f *fixture, st replicate.Store, opts replicate.Options) replicate.Result {
	t.Helper()
	res, err := replicate.Run(t.Context(), f.root, "alice", st, opts)
	if err != nil {
		t.Fatalf("replicate: %v", err)
	}
	return res
}

// check verifies the replica and fails the test on any fault.
func check(t *testing.T, st replicate.Store, wantMessages int) replicate.Report {
	t.Helper()
	rep, err := replicate.Check(t.Context(), st, replicate.CheckOptions{})
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	if rep.Unrepaired() > 0 || rep.Messages != wantMessages {
		t.Fatalf("check: %d messages (want %d), problems %v", rep.Messages, wantMessages, rep.Problems)
	}
	return rep
}

// sameAsArchive compares every message and its flags in the replica with
// the archive's latest state.
func sameAsArchive(t *testing.T, f *fixture, st replicate.Store) {
	t.Helper()
	ctx := t.Context()
	rp, err := replicate.Open(ctx, st, "")
	if err != nil {
		t.Fatal(err)
	}
	defer rp.Close()
	snap, err := archive.OpenSnapshot(ctx, f.root, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	want, got := contents(t, snap), contents(t, rp.Snapshot)
	if len(want) != len(got) {
		t.Fatalf("replica holds %d messages, archive %d", len(got), len(want))
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Fatalf("message %s differs in the replica", k)
		}
	}
}

// contents maps folder/key to flags and content of every message of the
// latest state.
func contents(t *testing.T, s *archive.Snapshot) map[string]string {
	t.Helper()
	out := map[string]string{}
	folders, err := s.Folders(t.Context(), archive.View{})
	if err != nil {
		t.Fatal(err)
	}
	for _, fv := range folders {
		msgs, err := s.Messages(t.Context(), fv.ID, archive.View{})
		if err != nil {
			t.Fatal(err)
		}
		fo, err := s.Folder(fv.FolderState)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			rc, err := fo.OpenMessage(m)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			_, err = io.Copy(&b, rc)
			rc.Close()
			if err != nil {
				t.Fatalf("%s %s: %v", fv.Name, m.Key, err)
			}
			out[fv.Name+"/"+m.Key] = strings.Join(m.Flags, " ") + "\n" + b.String()
		}
	}
	return out
}
