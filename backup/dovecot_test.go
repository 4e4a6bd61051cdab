package backup_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
	"github.com/mailkeep/mailkeep/transport"
)

func dialer(srv *dovecottest.Server, user string) transport.IMAPDialer {
	host, port := splitAddr(srv.IMAPAddr)
	ep := transport.Endpoint{Host: host, Port: port, TLS: config.TLSNone, Username: user,
		Secret: func(context.Context) (string, error) { return srv.Password(user), nil }}
	return func(ctx context.Context) (*imapclient.Client, error) {
		return transport.DialIMAP(ctx, ep, transport.IMAPOptions{})
	}
}

func splitAddr(addr string) (string, int) {
	i := strings.LastIndexByte(addr, ':')
	var port int
	fmt.Sscan(addr[i+1:], &port)
	return addr[:i], port
}

func runBackup(t *testing.T, ctx context.Context, root string, dial transport.IMAPDialer) backup.Result {
	t.Helper()
	return backupLogged(t, ctx, root, dial, nil)
}

// backupLogged is runBackup with the run logging to log (nil: nowhere).
func backupLogged(t *testing.T, ctx context.Context, root string, dial transport.IMAPDialer, log *slog.Logger) backup.Result {
	t.Helper()
	a, err := archive.OpenWriter(ctx, root, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	res, err := backup.IMAP(ctx, a, backup.Options{Dial: dial, Settings: backup.Settings{Log: log, BatchMessages: 64}})
	if err != nil {
		t.Fatalf("backup: %v (result %+v)", err, res)
	}
	t.Logf("run %d: %s %+v in %v", res.RunID, res.Outcome, res.Stats, res.Duration)
	return res
}

// TestDovecotBackup backs up a generated corpus from Dovecot, serves the
// archive with a second Dovecot and compares every message, then checks the
// incremental cases: no change, new mail, a flag change and a deletion.
func TestDovecotBackup(t *testing.T) {
	ctx := t.Context()
	srv := dovecottest.Start(t, dovecottest.Options{})
	msgs := corpus.Generate(corpus.Options{Seed: 7, Count: 150, Big: 20 << 20})
	src := srv.Dial(t, "alice")
	if err := corpus.Load(ctx, src, msgs); err != nil {
		t.Fatal(err)
	}
	unseen := countUnseen(t, src)
	root := t.TempDir()
	dial := dialer(srv, "alice")

	res := runBackup(t, ctx, root, dial)
	if res.Stats.NewMessages != len(msgs) || res.Outcome != archive.OutcomeOK {
		t.Fatalf("first run: %+v, want %d new messages", res, len(msgs))
	}
	if got := countUnseen(t, src); got != unseen {
		t.Errorf("backup changed \\Seen on the server: %d unseen before, %d after", unseen, got)
	}
	compareWithArchive(t, src, root)

	res = runBackup(t, ctx, root, dial)
	if s := res.Stats; s.NewMessages != 0 || s.FlagUpdates != 0 || s.Gone != 0 {
		t.Fatalf("no-change run did something: %+v", s)
	}

	more := corpus.More(corpus.Options{Seed: 7}, 100, 1)
	if err := corpus.Load(ctx, src, more); err != nil {
		t.Fatal(err)
	}
	res = runBackup(t, ctx, root, dial)
	if res.Stats.NewMessages != 100 {
		t.Fatalf("after 100 new messages: %+v", res.Stats)
	}

	flagAndDelete(t, src)
	res = runBackup(t, ctx, root, dial)
	if s := res.Stats; s.FlagUpdates != 1 || s.Gone != 1 || s.NewMessages != 0 {
		t.Fatalf("after one flag change and one deletion: %+v", s)
	}
	checkGoneKept(t, ctx, root)
	compareWithArchive(t, src, root)
}

func countUnseen(t *testing.T, c *imapclient.Client) int {
	t.Helper()
	n := 0
	for _, name := range listNames(t, c) {
		st, err := c.Status(name, &imap.StatusOptions{NumUnseen: true}).Wait()
		if err != nil {
			t.Fatal(err)
		}
		n += int(*st.NumUnseen)
	}
	return n
}

func listNames(t *testing.T, c *imapclient.Client) []string {
	t.Helper()
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range list {
		if !slices.Contains(l.Attrs, imap.MailboxAttrNoSelect) {
			out = append(out, l.Mailbox)
		}
	}
	slices.Sort(out)
	return out
}

// flagAndDelete flags the first INBOX message and expunges the second.
func flagAndDelete(t *testing.T, c *imapclient.Client) {
	t.Helper()
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	store := func(seq uint32, flag imap.Flag) {
		err := c.Store(imap.SeqSetNum(seq), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
			Flags: []imap.Flag{flag}}, nil).Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	store(1, "Marked-Later")
	store(2, imap.FlagDeleted)
	if err := c.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}
}

// checkGoneKept: the expunged message is marked gone and its file is still there.
func checkGoneKept(t *testing.T, ctx context.Context, root string) {
	t.Helper()
	a, err := archive.OpenWriter(ctx, root, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	folders, _ := a.Catalog.Folders(ctx)
	gone := 0
	for _, f := range folders {
		msgs, _ := a.Catalog.FolderMessages(ctx, f.ID)
		af, err := a.Folder(f.Name, []rune(f.Delim + "\x00")[0])
		if err != nil {
			t.Fatal(err)
		}
		files, _, _ := af.Scan()
		for _, m := range msgs {
			if _, ok := files[m.Key]; !ok {
				t.Errorf("%s: no file for %s", f.Name, m.Key)
			}
			if m.GoneRun != 0 {
				gone++
			}
		}
	}
	if gone != 1 {
		t.Errorf("%d messages marked gone, want 1", gone)
	}
}

// snapshot is a folder's messages as a server presents them.
type snapshot map[string][]string // folder → sorted "sha flags date" lines

func takeSnapshot(t *testing.T, c *imapclient.Client) snapshot {
	t.Helper()
	snap := snapshot{}
	for _, name := range listNames(t, c) {
		sel, err := c.Select(name, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			t.Fatalf("select %q: %v", name, err)
		}
		snap[name] = []string{}
		if sel.NumMessages > 0 {
			snap[name] = fetchLines(t, c)
		}
	}
	return snap
}

func fetchLines(t *testing.T, c *imapclient.Client) []string {
	t.Helper()
	opts := &imap.FetchOptions{Flags: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}
	bufs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, opts).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, b := range bufs {
		var raw []byte
		for _, v := range b.BodySection {
			raw = v.Bytes
		}
		flags := flagStrings(b.Flags)
		lines = append(lines, fmt.Sprintf("%x %d %v %s", sha256.Sum256(raw), len(raw), flags, b.InternalDate.UTC().Format(time.RFC3339)))
	}
	slices.Sort(lines)
	return lines
}

func flagStrings(flags []imap.Flag) []string {
	var out []string
	for _, f := range flags {
		if f != "\\Recent" {
			out = append(out, strings.ToLower(string(f)))
		}
	}
	slices.Sort(out)
	return out
}

// compareWithArchive serves the archive with a second Dovecot and checks
// that it shows the source's folders with identical messages, flags,
// keywords and dates. Folders gone from the source may stay in the archive.
func compareWithArchive(t *testing.T, src *imapclient.Client, root string) {
	t.Helper()
	want := takeSnapshot(t, src)
	served := dovecottest.ServeArchive(t, root+"/alice/mail")
	got := takeSnapshot(t, served.Dial(t, "archive"))
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("folder %q missing from the served archive (have %v)", name, keys(got))
			continue
		}
		if missing := diff(w, g); len(missing) > 0 {
			t.Errorf("folder %q: %d of %d messages differ; first wanted: %s", name, len(missing), len(w), missing[0])
		}
	}
}

// diff lists lines of want that got does not have (got may hold more: kept deletions).
func diff(want, got []string) []string {
	have := map[string]int{}
	for _, g := range got {
		have[g]++
	}
	var out []string
	for _, w := range want {
		if have[w] == 0 {
			out = append(out, w)
		}
		have[w]--
	}
	return out
}

func keys(m snapshot) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
