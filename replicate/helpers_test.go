package replicate_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
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
	n    int           // messages on the server
	keys *archive.Keys // the archive's encryption; nil: none
}

func newFixture(t *testing.T, count int) *fixture { return newFixtureKeys(t, count, nil) }

// newFixtureKeys is newFixture with an archive encrypted to keys.
func newFixtureKeys(t *testing.T, count int, keys *archive.Keys) *fixture {
	t.Helper()
	srv := memservertest.Start(t, memservertest.Options{})
	msgs := corpus.Generate(corpus.Options{Seed: 3, Count: count, Big: 300 << 10})
	if err := corpus.Load(t.Context(), srv.Dial(t, "alice"), msgs); err != nil {
		t.Fatal(err)
	}
	f := &fixture{srv: srv, root: t.TempDir(), n: len(msgs), keys: keys}
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
	a, err := archive.OpenWriterKeys(t.Context(), f.root, "alice", nil, f.keys)
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

// appendCopies appends the first n messages of INBOX again into folder on
// the server, with another INTERNALDATE: the same content, archived as a
// file of its own (a link needs the same date).
func (f *fixture) appendCopies(t *testing.T, folder string, n int) {
	t.Helper()
	c := f.srv.Dial(t, "alice")
	if err := c.Create(folder, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	set := imap.SeqSet{}
	set.AddRange(1, uint32(n))
	msgs, err := c.Fetch(set, &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		body := m.BodySection[0].Bytes
		date := time.Date(2001, 2, 3, 4, 5, i, 0, time.UTC)
		cmd := c.Append(folder, int64(len(body)), &imap.AppendOptions{Time: date})
		if _, err := cmd.Write(body); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
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

// prune deletes the first n messages of INBOX on the server, backs up
// (they are gone), and prunes them from the archive as "mailkeep prune"
// does, two days later.
func (f *fixture) prune(t *testing.T, n int) archive.PruneResult {
	t.Helper()
	c := f.srv.Dial(t, "alice")
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	set := imap.SeqSet{}
	set.AddRange(1, uint32(n))
	if err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	f.n -= n
	f.backup(t)
	a, err := archive.OpenWriterKeys(t.Context(), f.root, "alice", nil, f.keys)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	res, err := a.Prune(t.Context(), archive.PruneOptions{Retention: archive.Retention{GoneAfter: 24 * time.Hour},
		Now: time.Now().Add(48 * time.Hour)})
	if err != nil || res.Messages != n {
		t.Fatalf("prune: %d messages, %v; want %d", res.Messages, err, n)
	}
	return res
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
	want, got := contents(t, snap, archive.View{Gone: archive.GoneToo}), contents(t, rp.Snapshot, archive.View{Gone: archive.GoneToo})
	if len(want) != len(got) {
		t.Fatalf("replica holds %d messages, archive %d", len(got), len(want))
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Fatalf("message %s differs in the replica", k)
		}
	}
}

// contents maps folder/key to flags and content of every message of a
// view.
func contents(t *testing.T, s *archive.Snapshot, v archive.View) map[string]string {
	t.Helper()
	out := map[string]string{}
	folders, err := s.Folders(t.Context(), v)
	if err != nil {
		t.Fatal(err)
	}
	for _, fv := range folders {
		msgs, err := s.Messages(t.Context(), fv.ID, v)
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
