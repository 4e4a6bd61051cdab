package serve_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/pop3"
	"github.com/mailkeep/mailkeep/serve"
	"github.com/mailkeep/mailkeep/transport"
)

// TestGoneAndAsOf deletes messages and a folder on the server between
// backups and checks each view and its UID rule: the latest state with the
// server's UIDs, mailkeep/Gone with what the server deleted, the state as
// of an earlier run, each UIDVALIDITY as doc/design.md gives it.
func TestGoneAndAsOf(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	msgs := corpus.Generate(corpus.Options{Seed: 8, Count: 40})
	src := newSource(t, msgs) // run 1
	dc := src.dovecot.Dial(t, src.user)
	inbox1 := bodies(t, dc, "INBOX")
	rd1 := bodies(t, dc, "R&D")
	deleted := expungeFirst(t, dc, "INBOX", 3)
	if err := dc.Delete("R&D").Wait(); err != nil {
		t.Fatal(err)
	}
	src.backup(t) // run 2
	sv := startServe(t, src.root, serve.Options{Accounts: []string{src.user}})
	c := sv.dial(t, src.user)
	base := catalogBase(t, src.root, src.user)

	// Latest: the server's UIDs and UIDVALIDITY.
	want := bodies(t, dc, "INBOX")
	if got := bodies(t, c, "INBOX"); !sameMap(got.msgs, want.msgs) || got.validity != want.validity {
		t.Errorf("latest INBOX differs from the server: %d messages, UIDVALIDITY %d; want %d, %d",
			len(got.msgs), got.validity, len(want.msgs), want.validity)
	}
	if names := listNames(t, c); slices.Contains(names, "R&D") || !slices.Contains(names, "mailkeep/Gone") {
		t.Errorf("latest folders: %v", names)
	}
	// Gone: the deleted messages and the deleted folder's, UIDs from rows.
	gone := bodies(t, c, "mailkeep/Gone")
	if gone.validity != base+2*2 {
		t.Errorf("Gone UIDVALIDITY %d, want %d (base %d + 2 × run 2)", gone.validity, base+4, base)
	}
	wantGone := append(slices.Clone(deleted), values(rd1.msgs)...)
	if got := values(gone.msgs); !sameSet(got, wantGone) {
		t.Errorf("Gone holds %d messages, want %d", len(got), len(wantGone))
	}
	checkRowUIDs(t, src.root, src.user, archive.View{Gone: archive.GoneOnly}, "Gone", gone)

	// As of run 1: everything as it was, UIDs from rows.
	old := startServe(t, src.root, serve.Options{Accounts: []string{src.user}, AsOf: archive.AsOf{Run: 1}})
	oc := old.dial(t, src.user)
	asOf := bodies(t, oc, "INBOX")
	if !sameSet(values(asOf.msgs), values(inbox1.msgs)) || asOf.validity != base+2*1+1 {
		t.Errorf("INBOX as of run 1: %d messages, UIDVALIDITY %d; want %d, %d", len(asOf.msgs), asOf.validity,
			len(inbox1.msgs), base+3)
	}
	checkRowUIDs(t, src.root, src.user, archive.View{Run: 1}, "INBOX as of run 1", asOf)
	if got := bodies(t, oc, "R&D"); !sameSet(values(got.msgs), values(rd1.msgs)) {
		t.Errorf("R&D as of run 1: %d messages, want %d", len(got.msgs), len(rd1.msgs))
	}
	if g := bodies(t, oc, "mailkeep/Gone"); len(g.msgs) != 0 {
		t.Errorf("Gone as of run 1 holds %d messages", len(g.msgs))
	}

	// A run that deletes nothing keeps Gone's UIDs; one that does renews them.
	src.backup(t) // run 3
	if g := bodies(t, sv.dial(t, src.user), "mailkeep/Gone"); g.validity != gone.validity || !sameMap(g.msgs, gone.msgs) {
		t.Errorf("Gone after a run that deleted nothing: UIDVALIDITY %d, %d messages", g.validity, len(g.msgs))
	}
	expungeFirst(t, dc, "INBOX", 1)
	src.backup(t) // run 4
	g := bodies(t, sv.dial(t, src.user), "mailkeep/Gone")
	if g.validity != base+2*4 || len(g.msgs) != len(gone.msgs)+1 {
		t.Errorf("Gone after run 4 deleted one: UIDVALIDITY %d (want %d), %d messages (want %d)",
			g.validity, base+8, len(g.msgs), len(gone.msgs)+1)
	}
	if _, err := serve.New(ctx, serve.Options{Root: src.root, Accounts: []string{src.user}, Password: "x",
		AsOf: archive.AsOf{Run: 99}}); err == nil || !strings.Contains(err.Error(), "run 99") {
		t.Errorf("serving as of a run that does not exist: %v", err)
	}
}

// TestPOP3Account: a POP3 account's INBOX is served with UIDs from its
// rows, and its messages as RETR gave them.
func TestPOP3Account(t *testing.T) {
	t.Parallel()
	msgs := corpus.Generate(corpus.Options{Seed: 9, Count: 10, Folders: []string{"INBOX"}})
	src := newSource(t, msgs)
	const bob = "bob"
	if err := corpus.Load(context.Background(), src.dovecot.Dial(t, bob), msgs); err != nil {
		t.Fatal(err)
	}
	a, err := archive.OpenWriter(context.Background(), src.root, bob, nil)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(src.dovecot.POP3Addr)
	p, _ := strconv.Atoi(port)
	ep := transport.Endpoint{Host: host, Port: p, TLS: config.TLSNone, Username: bob,
		Secret: func(context.Context) (string, error) { return src.dovecot.Password(bob), nil }}
	_, err = backup.POP3(context.Background(), a, backup.POP3Options{Dial: func(ctx context.Context) (*pop3.Client, error) {
		return transport.DialPOP3(ctx, ep, transport.POP3Options{})
	}})
	a.Close()
	if err != nil {
		t.Fatal(err)
	}
	sv := startServe(t, src.root, serve.Options{Accounts: []string{src.user, bob}})
	c := sv.dial(t, bob)
	if names := listNames(t, c); !slices.Equal(names, []string{"INBOX", "mailkeep", "mailkeep/Gone"}) {
		t.Errorf("POP3 folders: %v", names)
	}
	got := bodies(t, c, "INBOX")
	want := bodies(t, src.dovecot.Dial(t, bob), "INBOX")
	if got.validity != catalogBase(t, src.root, bob) {
		t.Errorf("UIDVALIDITY %d, want the catalog's first run start %d", got.validity, catalogBase(t, src.root, bob))
	}
	checkRowUIDs(t, src.root, bob, archive.View{}, "POP3 INBOX", got)
	// RETR sends a last line without its line end with CRLF added.
	var w []string
	for _, b := range values(want.msgs) {
		if !strings.HasSuffix(b, "\r\n") {
			b += "\r\n"
		}
		w = append(w, b)
	}
	if !sameSet(values(got.msgs), w) {
		t.Errorf("POP3 INBOX: %d messages differ from the server's", len(w))
	}
}

// folder is a folder's messages by UID, with its UIDVALIDITY.
type folder struct {
	validity uint32
	msgs     map[imap.UID]string
}

func bodies(t *testing.T, c *imapclient.Client, name string) folder {
	t.Helper()
	sel, err := c.Select(name, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("examine %s: %v", name, err)
	}
	f := folder{validity: sel.UIDValidity, msgs: map[imap.UID]string{}}
	if sel.NumMessages == 0 {
		return f
	}
	msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		f.msgs[m.UID] = string(m.FindBodySection(&imap.FetchItemBodySection{Peek: true}))
	}
	if sel.UIDNext <= maxUID(f.msgs) {
		t.Errorf("%s: UIDNEXT %d, highest UID %d", name, sel.UIDNext, maxUID(f.msgs))
	}
	return f
}

func maxUID(m map[imap.UID]string) imap.UID {
	var top imap.UID
	for u := range m {
		top = max(top, u)
	}
	return top
}

// expungeFirst deletes the first n messages of a folder on the server and
// returns their bodies.
func expungeFirst(t *testing.T, c *imapclient.Client, name string, n uint32) []string {
	t.Helper()
	if _, err := c.Select(name, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	set := imap.SeqSet{{Start: 1, Stop: n}}
	msgs, err := c.Fetch(set, &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		out = append(out, string(m.FindBodySection(&imap.FetchItemBodySection{Peek: true})))
	}
	if err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// catalogBase is the start of the catalog's first run: derived
// UIDVALIDITYs count from it.
func catalogBase(t *testing.T, root, account string) uint32 {
	t.Helper()
	snap, err := archive.OpenSnapshot(context.Background(), root, account)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	first, _, err := snap.FirstRun(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return uint32(first.Started.Unix())
}

// checkRowUIDs: in a view with derived UIDs, each message's UID is its
// catalog row id.
func checkRowUIDs(t *testing.T, root, account string, v archive.View, what string, f folder) {
	t.Helper()
	snap, err := archive.OpenSnapshot(context.Background(), root, account)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	rows := map[[32]byte][]int64{}
	err = snap.Scan(context.Background(), v, func(m archive.Message) error {
		rows[m.SHA256] = append(rows[m.SHA256], m.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for uid, body := range f.msgs {
		if ids := rows[sha256.Sum256([]byte(body))]; !slices.Contains(ids, int64(uid)) {
			t.Errorf("%s: UID %d is not the row of its message (rows %v)", what, uid, ids)
		}
	}
}

func listNames(t *testing.T, c *imapclient.Client) []string {
	t.Helper()
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range list {
		names = append(names, l.Mailbox)
	}
	slices.Sort(names)
	return names
}

func values(m map[imap.UID]string) []string {
	var v []string
	for _, s := range m {
		v = append(v, s)
	}
	return v
}

func sameMap(a, b map[imap.UID]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// sameSet compares bodies as multisets.
func sameSet(a, b []string) bool {
	h := func(l []string) []string {
		var out []string
		for _, s := range l {
			out = append(out, fmt.Sprintf("%x", sha256.Sum256([]byte(s))))
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(h(a), h(b))
}
