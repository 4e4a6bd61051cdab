package backup_test

import (
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
	"github.com/mailkeep/mailkeep/internal/pop3fake"
	"github.com/mailkeep/mailkeep/transport"
)

// inboxCorpus is a corpus whose messages all go to INBOX: the special
// messages (dot-leading lines, a 10,000-byte line, a binary attachment,
// 8-bit bodies...), count ordinary ones and, if big > 0, one of big bytes.
func inboxCorpus(seed int64, count int, big int64) (corpus.Options, []corpus.Message) {
	opts := corpus.Options{Seed: seed, Count: count, Big: big, Folders: []string{"INBOX"}}
	return opts, corpus.Generate(opts)
}

func load(t *testing.T, srv *dovecottest.Server, user string, msgs []corpus.Message) {
	t.Helper()
	if err := corpus.Load(t.Context(), srv.Dial(t, user), msgs); err != nil {
		t.Fatal(err)
	}
}

// imapBodies returns BODY.PEEK[] of every INBOX message of user, sorted.
func imapBodies(t *testing.T, c *imapclient.Client) []string {
	t.Helper()
	sel, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages == 0 {
		return []string{}
	}
	section := &imap.FetchItemBodySection{Peek: true}
	bufs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{
		BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(bufs))
	for i, b := range bufs {
		out[i] = string(b.FindBodySection(section))
	}
	slices.Sort(out)
	return out
}

func serverBodies(t *testing.T, srv *dovecottest.Server, user string) []string {
	t.Helper()
	return imapBodies(t, srv.Dial(t, user))
}

// pop3Forms returns the messages as POP3 delivers them, sorted. A POP3
// server sends message data as lines, so a message whose last line has no
// line end (one of the corpus's special messages) arrives with CRLF
// appended: the protocol cannot carry the difference. Every other message
// arrives byte for byte as IMAP shows it.
func pop3Forms(bodies []string) []string {
	out := make([]string, len(bodies))
	for i, b := range bodies {
		if b != "" && !strings.HasSuffix(b, "\n") {
			b += "\r\n"
		}
		out[i] = b
	}
	slices.Sort(out)
	return out
}

func dovecotOptions(srv *dovecottest.Server, user string, retrs *counter) backup.POP3Options {
	return backup.POP3Options{Dial: pop3Dialer(srv.POP3Addr, user, srv.Password(user), retrs)}
}

// TestPOP3DovecotKeep: keep mode retrieves each message exactly once over
// several runs, byte for byte, and never deletes; Dovecot serves the
// archive with the same messages.
func TestPOP3DovecotKeep(t *testing.T) {
	t.Parallel()
	srv := dovecottest.Start(t, dovecottest.Options{})
	copts, msgs := inboxCorpus(21, 60, 0)
	load(t, srv, "bob", msgs)
	root := t.TempDir()
	retrs := &counter{}
	opts := dovecotOptions(srv, "bob", retrs)

	if res := mustPOP3(t, root, opts); res.Stats.NewMessages != len(msgs) {
		t.Fatalf("first run stored %d, want %d", res.Stats.NewMessages, len(msgs))
	}
	load(t, srv, "bob", corpus.More(copts, 15, 0))
	if res := mustPOP3(t, root, opts); res.Stats.NewMessages != 15 {
		t.Fatalf("second run stored %d, want 15", res.Stats.NewMessages)
	}
	load(t, srv, "bob", corpus.More(copts, 5, 15))
	if res := mustPOP3(t, root, opts); res.Stats.NewMessages != 5 {
		t.Fatalf("third run stored %d, want 5", res.Stats.NewMessages)
	}
	if res := mustPOP3(t, root, opts); res.Stats.NewMessages != 0 || res.Stats.Gone != 0 {
		t.Fatalf("no-change run: %+v", res.Stats)
	}
	want := serverBodies(t, srv, "bob")
	if len(want) != len(msgs)+20 || retrs.get() != len(want) {
		t.Fatalf("server holds %d messages, %d RETR sent; want %d of each", len(want), retrs.get(), len(msgs)+20)
	}
	sameStrings(t, "archive", contents(archived(t, root)), pop3Forms(want))

	served := dovecottest.ServeArchive(t, filepath.Join(root, pop3Account, "mail"))
	sameStrings(t, "archive served by Dovecot", imapBodies(t, served.Dial(t, dovecottest.ArchiveUser)), pop3Forms(want))
}

// TestPOP3DovecotDelete: delete mode empties the server, and the archive
// holds every message as IMAP showed it before.
func TestPOP3DovecotDelete(t *testing.T) {
	t.Parallel()
	srv := dovecottest.Start(t, dovecottest.Options{})
	_, msgs := inboxCorpus(22, 40, 3<<20)
	load(t, srv, "bob", msgs)
	want := serverBodies(t, srv, "bob")
	root := t.TempDir()
	opts := dovecotOptions(srv, "bob", nil)
	opts.Delete = true

	if res := mustPOP3(t, root, opts); res.Stats.NewMessages != len(msgs) || res.Stats.ServerDeleted != len(msgs) {
		t.Fatalf("stored %d, deleted %d; want %d each", res.Stats.NewMessages, res.Stats.ServerDeleted, len(msgs))
	}
	if left := serverBodies(t, srv, "bob"); len(left) != 0 {
		t.Fatalf("%d messages left on the server", len(left))
	}
	got := archived(t, root)
	sameStrings(t, "archive", contents(got), pop3Forms(want))
	for _, m := range got {
		if m.row.ServerDeleted == 0 {
			t.Errorf("%s: no server_deleted_run", m.row.Key)
		}
	}
	res := mustPOP3(t, root, opts)
	if res.Stats.NewMessages != 0 || res.Stats.Gone != len(msgs) {
		t.Errorf("run after the deletion: %+v, want %d gone", res.Stats, len(msgs))
	}
}

// TestPOP3DovecotDeleteAfterDays: keep mode with delete_after_days deletes
// exactly the messages archived longer ago than that.
func TestPOP3DovecotDeleteAfterDays(t *testing.T) {
	t.Parallel()
	srv := dovecottest.Start(t, dovecottest.Options{})
	copts, first := inboxCorpus(23, 10, 0)
	load(t, srv, "bob", first)
	root := t.TempDir()
	t0 := time.Date(2031, 3, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	opts := dovecotOptions(srv, "bob", nil)
	opts.DeleteAfterDays = 3
	opts.Now = func() time.Time { return now }

	mustPOP3(t, root, opts)
	second := corpus.More(copts, 6, 0)
	load(t, srv, "bob", second)
	now = t0.Add(48 * time.Hour)
	if res := mustPOP3(t, root, opts); res.Stats.NewMessages != 6 {
		t.Fatalf("second run stored %d, want 6", res.Stats.NewMessages)
	}
	if n := len(serverBodies(t, srv, "bob")); n != len(first)+6 {
		t.Fatalf("server holds %d after two days, want %d", n, len(first)+6)
	}
	now = t0.Add(3*24*time.Hour + time.Hour)
	mustPOP3(t, root, opts)
	var secondRaw [][]byte
	for _, m := range second {
		secondRaw = append(secondRaw, m.Raw)
	}
	sameStrings(t, "server after 3 days", serverBodies(t, srv, "bob"), sortedStrings(secondRaw))
	sameStrings(t, "archive", contents(archived(t, root)), pop3Forms(append(bodiesOf(first), bodiesOf(second)...)))

	now = t0.Add(5*24*time.Hour + time.Hour)
	mustPOP3(t, root, opts)
	if n := len(serverBodies(t, srv, "bob")); n != 0 {
		t.Fatalf("server holds %d after 5 days, want 0", n)
	}
	if n := len(archived(t, root)); n != len(first)+6 {
		t.Errorf("archive holds %d, want %d", n, len(first)+6)
	}
}

// TestPOP3DovecotCutMidRetr: a connection cut in the middle of a message
// publishes nothing half-written and deletes nothing; the next run
// completes without duplicates.
func TestPOP3DovecotCutMidRetr(t *testing.T) {
	t.Parallel()
	srv := dovecottest.Start(t, dovecottest.Options{})
	_, msgs := inboxCorpus(24, 30, 2<<20)
	load(t, srv, "bob", msgs)
	want := pop3Forms(serverBodies(t, srv, "bob"))
	total := int64(0)
	for _, b := range want {
		total += int64(len(b))
	}
	proxy := pop3fake.StartProxy(t, srv.POP3Addr, pop3fake.ProxyOptions{CutAfter: total / 2, CutSessions: 2})
	root := t.TempDir()
	opts := backup.POP3Options{Delete: true, Dial: pop3Dialer(proxy.Addr, "bob", srv.Password("bob"), nil)}

	res, err := runPOP3(t, root, opts)
	if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("run through the cutting proxy: %s, %v; want io.ErrUnexpectedEOF", res.Outcome, err)
	}
	if n := len(serverBodies(t, srv, "bob")); n != len(want) {
		t.Fatalf("server holds %d messages after the cut, want all %d", n, len(want))
	}
	got := archived(t, root)
	if len(got) == 0 || len(got) == len(want) {
		t.Fatalf("%d messages archived before the cut; the test wants some, not all", len(got))
	}
	for _, m := range got {
		if _, found := slices.BinarySearch(want, string(m.data)); !found {
			t.Errorf("%s is not a message of the server (half-written?)", m.row.Key)
		}
	}

	opts.Dial = pop3Dialer(srv.POP3Addr, "bob", srv.Password("bob"), nil)
	mustPOP3(t, root, opts)
	sameStrings(t, "archive", contents(archived(t, root)), want)
	if n := len(serverBodies(t, srv, "bob")); n != 0 {
		t.Fatalf("server holds %d messages after the second run", n)
	}
}

// TestPOP3DovecotDiskFull: delete mode with an archive on a 1 MiB tmpfs,
// as TestDiskFull does for IMAP: the run fails and the server keeps every
// message.
func TestPOP3DovecotDiskFull(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	_, msgs := inboxCorpus(25, 20, 3<<20)
	load(t, srv, "bob", msgs)
	want := serverBodies(t, srv, "bob")
	root := t.TempDir()
	mount(t, root, "size=1m")
	opts := dovecotOptions(srv, "bob", nil)
	opts.Delete = true
	res, err := runPOP3(t, root, opts)
	if !errors.Is(err, syscall.ENOSPC) || res.Outcome == archive.OutcomeOK {
		t.Fatalf("run on a full disk: %s, %v; want a failure with ENOSPC", res.Outcome, err)
	}
	if transport.Classify(err) != transport.Permanent {
		t.Errorf("a full disk is reported as temporary: %v", err)
	}
	sameStrings(t, "server after the failed run", serverBodies(t, srv, "bob"), want)
}

func bodiesOf(msgs []corpus.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m.Raw)
	}
	return out
}
