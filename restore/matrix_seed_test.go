package restore_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/couriertest"
	"github.com/mailkeep/mailkeep/internal/cyrustest"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
	"github.com/mailkeep/mailkeep/internal/memservertest"
)

// mserver is a running server of the restore matrix.
type mserver struct {
	name     string
	addr     string
	password func(user string) string
	dial     func(t testing.TB, user string) *imapclient.Client
	prefix   string // personal namespace prefix
	delim    rune
}

// Servers of the matrix, started on loopback for the test.
func dovecotServer(t *testing.T, name string, opts dovecottest.Options) mserver {
	s := dovecottest.Start(t, opts)
	return mserver{name, s.IMAPAddr, s.Password, s.Dial, s.Prefix, s.Delim}
}

func cyrusServer(t *testing.T, name string, layout cyrustest.Layout) mserver {
	s := cyrustest.Start(t, cyrustest.Options{Layout: layout})
	return mserver{name + " " + s.Version, s.IMAPAddr, s.Password, s.Dial, s.Prefix, s.Delim}
}

func courierServer(t *testing.T) mserver {
	s := couriertest.Start(t, couriertest.Options{})
	return mserver{"Courier " + s.Version, s.IMAPAddr, s.Password, s.Dial, s.Prefix, s.Delim}
}

func memServer(t *testing.T, name string, caps imap.CapSet) mserver {
	return memServerOpts(t, name, memservertest.Options{Caps: caps})
}

func memServerOpts(t *testing.T, name string, opts memservertest.Options) mserver {
	s := memservertest.Start(t, opts)
	return mserver{name, s.IMAPAddr, s.Password, s.Dial, s.Prefix, s.Delim}
}

// seedFolders are the corpus folders of the matrix, "/"-separated and
// relative to the personal namespace; Sent, Drafts, Trash and Junk are
// created with their special use first where the server can.
var seedFolders = []string{"INBOX", "Archive", "Archive/2024", "Entwürfe", "R&D", "Sent", "Отчёты", "Empty",
	"Drafts", "Trash", "Junk"}

var seedUses = map[string]imap.MailboxAttr{"Sent": imap.MailboxAttrSent, "Drafts": imap.MailboxAttrDrafts,
	"Trash": imap.MailboxAttrTrash, "Junk": imap.MailboxAttrJunk}

// seedAccount fills user's account: the special-use folders, a small
// corpus (the special messages and 14 ordinary ones, some with
// attachments of 50–300 KB), the odd folder names the server accepts with
// a message each, and the edge messages the server accepts.
func seedAccount(t *testing.T, s mserver, user string, seed int64) {
	t.Helper()
	c := s.dial(t, user)
	for name, use := range seedUses {
		var opts *imap.CreateOptions
		if c.Caps().Has(imap.CapCreateSpecialUse) {
			opts = &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{use}}
		}
		c.Create(s.prefix+name, opts).Wait() // it may exist: Load creates what is missing
	}
	opts := corpus.Options{Seed: seed, Count: 14}
	for _, f := range seedFolders {
		if s.prefix != "" && f != "INBOX" {
			f = "INBOX/" + f
		}
		opts.Folders = append(opts.Folders, f)
	}
	if err := corpus.Load(t.Context(), c, corpus.Generate(opts)); err != nil {
		t.Fatalf("%s: load corpus: %v", s.name, err)
	}
	seedOddFolders(t, s, c)
	seedEdgeMessages(t, s, user)
}

// oddNames are folder names servers treat differently, made from the
// server's delimiter d.
var oddNames = []func(d string) string{
	func(d string) string {
		if d == "." {
			return "Slash/Name"
		}
		return "Dotted.Name"
	},
	func(d string) string { return "a" + d + d + "b" },
	func(d string) string { return "Trailing" + d },
	fixed(".lead"), fixed("~tilde"), fixed("%41"), fixed("cur"), fixed("with space"), fixed("[Brackets]"), fixed("x*y"),
}

func fixed(n string) func(string) string { return func(string) string { return n } }

// seedOddFolders creates each odd folder the server accepts and appends a
// message to what it lists.
func seedOddFolders(t *testing.T, s mserver, c *imapclient.Client) {
	t.Helper()
	for i, odd := range oddNames {
		name := s.prefix + odd(string(s.delim))
		before := listed(t, c)
		if err := c.Create(name, nil).Wait(); err != nil {
			t.Logf("%s: CREATE %q: %v", s.name, name, err)
			continue
		}
		leaf := ""
		for _, l := range listed(t, c) {
			if !slices.Contains(before, l) && len(l) > len(leaf) {
				leaf = l
			}
		}
		if leaf == "" {
			t.Logf("%s: %q created, not listed", s.name, name)
			continue
		}
		raw := fmt.Sprintf("Subject: odd folder %d\r\nX-Case: folder %s\r\n\r\nin %q\r\n", i, leaf, leaf)
		if err := appendOne(c, leaf, raw, nil, time.Date(2024, 2, 1+i, 12, 0, 0, 0, time.UTC)); err != nil {
			t.Fatalf("%s: append to %q: %v", s.name, leaf, err)
		}
	}
}

// listed returns the selectable folders.
func listed(t *testing.T, c *imapclient.Client) []string {
	t.Helper()
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range list {
		if !slices.Contains(l.Attrs, imap.MailboxAttrNoSelect) && !slices.Contains(l.Attrs, imap.MailboxAttrNonExistent) {
			out = append(out, l.Mailbox)
		}
	}
	return out
}

// edgeMessages are messages servers store differently: a bare LF, and
// INTERNALDATEs far from today in zones other than UTC. Their X-Case
// header names the case.
var edgeMessages = []struct {
	key  string
	raw  string
	date time.Time
}{
	{"bare LF", "Subject: bare LF\nX-Case: bare LF\n\nline one\nline two\n", time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)},
	{"1971 +05:30", edgeRaw("1971 +05:30"), time.Date(1971, 1, 1, 10, 0, 0, 0, time.FixedZone("", 5*3600+1800))},
	{"1969 before the epoch", edgeRaw("1969 before the epoch"), time.Date(1969, 7, 20, 20, 17, 40, 0, time.UTC)},
	{"2030 -05:00", edgeRaw("2030 -05:00"), time.Date(2030, 6, 1, 12, 0, 0, 0, time.FixedZone("", -5*3600))},
	{"2110 after 2106", edgeRaw("2110 after 2106"), time.Date(2110, 1, 1, 10, 0, 0, 0, time.FixedZone("", 3600))},
}

func edgeRaw(key string) string {
	return "Subject: a date far from today\r\nX-Case: " + key + "\r\n\r\nThe INTERNALDATE is " + key + ".\r\n"
}

// seedEdgeMessages appends the edge messages to the folder Edge, each
// with \Seen. After a refusal the next one goes over a new connection: a
// server without LITERAL+ refuses before the literal, and the client then
// closes the connection.
func seedEdgeMessages(t *testing.T, s mserver, user string) {
	t.Helper()
	folder := s.prefix + "Edge"
	c := s.dial(t, user)
	if err := c.Create(folder, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for _, m := range edgeMessages {
		if err := appendOne(c, folder, m.raw, []imap.Flag{imap.FlagSeen}, m.date); err != nil {
			t.Logf("%s: message %s: APPEND: %v", s.name, m.key, err)
			c = s.dial(t, user)
		}
	}
}

func appendOne(c *imapclient.Client, folder, raw string, flags []imap.Flag, date time.Time) error {
	cmd := c.Append(folder, int64(len(raw)), &imap.AppendOptions{Flags: flags, Time: date})
	_, werr := cmd.Write([]byte(raw))
	if err := errors.Join(werr, cmd.Close()); err != nil {
		return err
	}
	_, err := cmd.Wait()
	return err
}

// backupAccount backs user of s up into root/<user>.
func backupAccount(t testing.TB, s mserver, root, user string) {
	t.Helper()
	a, err := archive.OpenWriter(t.Context(), root, user, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	res, err := backup.IMAP(t.Context(), a, backup.Options{Dial: dialer(s.addr, user, s.password(user))})
	if err != nil || res.Outcome != archive.OutcomeOK {
		t.Fatalf("%s: backup: %s %v (%+v)", s.name, res.Outcome, err, res.Stats)
	}
}
