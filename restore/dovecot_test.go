package restore_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
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
	"github.com/mailkeep/mailkeep/restore"
	"github.com/mailkeep/mailkeep/transport"
)

func dialer(addr, user, password string) func(context.Context) (*imapclient.Client, error) {
	i := strings.LastIndexByte(addr, ':')
	var port int
	fmt.Sscan(addr[i+1:], &port)
	ep := transport.Endpoint{Host: addr[:i], Port: port, TLS: config.TLSNone, Username: user,
		Secret: func(context.Context) (string, error) { return password, nil }}
	return func(ctx context.Context) (*imapclient.Client, error) {
		return transport.DialIMAP(ctx, ep, transport.IMAPOptions{})
	}
}

func userDialer(srv *dovecottest.Server, user string) transport.IMAPDialer {
	return dialer(srv.IMAPAddr, user, srv.Password(user))
}

// runBackup backs up user of srv into root/<user>.
func runBackup(t *testing.T, srv *dovecottest.Server, root, user string) backup.Result {
	t.Helper()
	a, err := archive.OpenWriter(t.Context(), root, user, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	res, err := backup.IMAP(t.Context(), a, backup.Options{Dial: dialer(srv.IMAPAddr, user, srv.Password(user))})
	if err != nil {
		t.Fatalf("backup: %v (%+v)", err, res)
	}
	return res
}

// runRestore restores root/<account> with opts and fails the test on an
// error other than ErrPartial.
func runRestore(t *testing.T, root, account string, opts restore.Options) (restore.Result, error) {
	t.Helper()
	res, err := restore.Run(t.Context(), root, account, opts)
	t.Logf("restore: appended %d, skipped %d, failed %d, created %d folders, %v; err %v",
		res.Appended, res.Skipped, res.Failed, res.Created, res.Duration, err)
	if err != nil && !errors.Is(err, restore.ErrPartial) {
		t.Fatalf("restore: %v", err)
	}
	return res, err
}

// loadCorpus fills user's account with msgs and returns a logged-in client.
func loadCorpus(t *testing.T, srv *dovecottest.Server, user string, msgs []corpus.Message) *imapclient.Client {
	t.Helper()
	c := srv.Dial(t, user)
	if err := corpus.Load(t.Context(), c, msgs); err != nil {
		t.Fatal(err)
	}
	return c
}

// snapshot is an account as a server presents it: per folder, one sorted
// line per message with its content hash, size, flags and INTERNALDATE.
type snapshot map[string][]string

func takeSnapshot(t *testing.T, c *imapclient.Client) snapshot {
	t.Helper()
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	snap := snapshot{}
	for _, l := range list {
		if slices.Contains(l.Attrs, imap.MailboxAttrNoSelect) {
			continue
		}
		sel, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			t.Fatalf("examine %q: %v", l.Mailbox, err)
		}
		snap[l.Mailbox] = []string{}
		if sel.NumMessages > 0 {
			snap[l.Mailbox] = fetchLines(t, c)
		}
	}
	return snap
}

func fetchLines(t *testing.T, c *imapclient.Client) []string {
	t.Helper()
	opts := &imap.FetchOptions{Flags: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}
	msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, opts).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, m := range msgs {
		var raw []byte
		for _, b := range m.BodySection {
			raw = b.Bytes
		}
		var flags []string
		for _, f := range m.Flags {
			if f != `\Recent` {
				flags = append(flags, strings.ToLower(string(f)))
			}
		}
		slices.Sort(flags)
		lines = append(lines, fmt.Sprintf("%x %d %v %s", sha256.Sum256(raw), len(raw), flags,
			m.InternalDate.UTC().Format(time.RFC3339)))
	}
	slices.Sort(lines)
	return lines
}

// sameSnapshot reports every difference between two snapshots.
func sameSnapshot(t *testing.T, what string, got, want snapshot) {
	t.Helper()
	for name, w := range want {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: folder %q missing (have %v)", what, name, folderNames(got))
		case !slices.Equal(g, w):
			t.Errorf("%s: folder %q has %d messages, want %d; first difference: %s", what, name, len(g), len(w),
				firstDiff(g, w))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: unexpected folder %q", what, name)
		}
	}
}

func firstDiff(got, want []string) string {
	for _, w := range want {
		if !slices.Contains(got, w) {
			return "missing " + w
		}
	}
	for i := range got {
		if i > 0 && got[i] == got[i-1] {
			return "twice " + got[i]
		}
		if !slices.Contains(want, got[i]) {
			return "unexpected " + got[i]
		}
	}
	return "duplicates"
}

func folderNames(s snapshot) []string {
	var out []string
	for k := range s {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func count(s snapshot) int {
	n := 0
	for _, lines := range s {
		n += len(lines)
	}
	return n
}

// TestRestoreRoundTrip backs up a corpus with nested and non-ASCII
// folders, flags, keywords, zoned dates, 8-bit headers and a 20 MB message,
// restores it into an empty account and compares the two accounts
// message by message; then restores again and expects nothing appended.
func TestRestoreRoundTrip(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	msgs := corpus.Generate(corpus.Options{Seed: 21, Count: 150, Big: 20 << 20})
	want := takeSnapshot(t, loadCorpus(t, srv, "alice", msgs))
	root := t.TempDir()
	runBackup(t, srv, root, "alice")

	res, err := runRestore(t, root, "alice", restore.Options{Dial: userDialer(srv, "carol")})
	if err != nil || res.Appended != len(msgs) || res.Skipped != 0 || res.Failed != 0 {
		t.Fatalf("first restore: %+v, %v; want %d appended", res, err, len(msgs))
	}
	if wantFolders := len(corpus.Folders(msgs)); res.Folders != wantFolders || res.Created != wantFolders-1 {
		t.Errorf("%d folders, %d created; want %d and %d (all but INBOX)", res.Folders, res.Created, wantFolders, wantFolders-1)
	}
	carol := srv.Dial(t, "carol")
	sameSnapshot(t, "restored account", takeSnapshot(t, carol), want)
	checkZones(t, srv.Dial(t, "alice"), carol)

	res, err = runRestore(t, root, "alice", restore.Options{Dial: userDialer(srv, "carol")})
	if err != nil || res.Appended != 0 || res.Skipped != len(msgs) || res.Created != 0 {
		t.Fatalf("second restore: %+v, %v; want all %d skipped", res, err, len(msgs))
	}
	sameSnapshot(t, "after the second restore", takeSnapshot(t, carol), want)
}

// checkZones logs how the INTERNALDATE zones compare: Dovecot's Maildir
// keeps the instant (the file's mtime), not the zone, so the instants are
// what the snapshots compare.
func checkZones(t *testing.T, src, dst *imapclient.Client) {
	t.Helper()
	zones := func(c *imapclient.Client) []string {
		if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
			t.Fatal(err)
		}
		msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 3}}, &imap.FetchOptions{InternalDate: true}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range msgs {
			out = append(out, m.InternalDate.Format(time.RFC3339))
		}
		return out
	}
	t.Logf("INTERNALDATEs of the first INBOX messages: source %v, restored %v", zones(src), zones(dst))
}
