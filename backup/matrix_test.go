package backup_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/servertest"
)

// matrixServer is a running server of the backup matrix.
type matrixServer struct {
	desc     string
	addr     string
	password func(user string) string
	dial     func(t testing.TB, user string) *imapclient.Client
	prefix   string // personal namespace prefix, "" or "INBOX."
	delim    rune
}

// matrixCorpus is smaller than TestDovecotBackup's: the special messages,
// 30 ordinary ones (a few with attachments of 50–300 KB) and one of 2 MiB.
var matrixCorpus = corpus.Options{Seed: 17, Count: 30, Big: 2 << 20}

// runMatrix seeds alice's account with the hard cases, checking what the
// server refuses or changes against want, then backs it up three times: a
// first run that must fetch every message the server serves, a rerun that
// must fetch nothing, and a run after a flag change, a deletion and new
// mail. After the first and the last run the archive must equal the server
// message by message. The commands the backup sent show which sync path
// ran; they must match the server's extensions.
func runMatrix(t *testing.T, s matrixServer, want expectation) {
	t.Log(s.desc)
	ctx := t.Context()
	src := s.dial(t, "alice")
	opts := seedCorpus(t, s, src)
	checkOutcomes(t, "folder", seedOddFolders(t, s, src), want.folders)
	checkOutcomes(t, "message", seedEdgeMessages(t, s), want.messages)
	unseen := countUnseen(t, src)
	folders, total := countServed(t, src)

	rec := servertest.RecordCommands(t, s.addr)
	dial := dialVia(rec.Addr, "alice", s.password("alice"), 0)
	root := t.TempDir()
	res := runBackup(t, ctx, root, dial)
	if res.Outcome != archive.OutcomeOK || res.Stats.NewMessages != total || res.Stats.Folders != folders {
		t.Fatalf("first run: %s %+v, want %d messages in %d folders", res.Outcome, res.Stats, total, folders)
	}
	first := rec.Take()
	if got := countUnseen(t, src); got != unseen {
		t.Errorf("backup changed \\Seen on the server: %d unseen before, %d after", unseen, got)
	}
	compareExact(t, src, root)
	checkRecorded(t, src, root, s)

	res = runBackup(t, ctx, root, dial)
	if st := res.Stats; res.Outcome != archive.OutcomeOK || st.NewMessages != 0 || st.FlagUpdates != 0 || st.Gone != 0 {
		t.Fatalf("no-change run did something: %s %+v", res.Outcome, st)
	}
	rerun := rec.Take()

	flagAndExpunge(t, src)
	if err := corpus.Load(ctx, src, corpus.More(opts, 3, 0)); err != nil {
		t.Fatal(err)
	}
	res = runBackup(t, ctx, root, dial)
	if st := res.Stats; res.Outcome != archive.OutcomeOK || st.FlagUpdates != 1 || st.Gone != 1 || st.NewMessages != 3 {
		t.Fatalf("after a flag change, a deletion and 3 new messages: %s %+v", res.Outcome, st)
	}
	compareExact(t, src, root)
	checkGoneKept(t, ctx, root)
	checkPaths(t, want.paths, folders, first, rerun, rec.Take())
}

// seedCorpus loads the matrix corpus into the default folders, under the
// server's personal namespace prefix, and returns its options.
func seedCorpus(t *testing.T, s matrixServer, c *imapclient.Client) corpus.Options {
	t.Helper()
	opts := matrixCorpus
	for _, f := range corpus.DefaultFolders {
		if s.prefix != "" && f != "INBOX" {
			f = "INBOX/" + f // corpus folders are "/"-separated
		}
		opts.Folders = append(opts.Folders, f)
	}
	if err := corpus.Load(t.Context(), c, corpus.Generate(opts)); err != nil {
		t.Fatalf("load corpus: %v", err)
	}
	return opts
}

// oddFolders are folder names servers treat differently, made from the
// server's separator and created under its personal prefix.
var oddFolders = []struct {
	key  string
	name func(delim string) string
}{
	{"other separator inside", func(d string) string {
		if d == "." {
			return "Slash/Name"
		}
		return "Dotted.Name"
	}},
	{"doubled separator", func(d string) string { return "a" + d + d + "b" }},
	{"trailing separator", func(d string) string { return "Trailing" + d }},
	{"leading dot", fixedName(".lead")},
	{"leading tilde", fixedName("~tilde")},
	{"percent", fixedName("%41")},
	{"Maildir word", fixedName("cur")},
	{"space", fixedName("with space")},
	{"brackets", fixedName("[Brackets]")},
	{"wildcard", fixedName("x*y")},
}

func fixedName(n string) func(string) string { return func(string) string { return n } }

// seedOddFolders creates each odd folder and says what became of it:
// refused, kept (listed as given), listed under another name, or not
// listed at all. Each folder that is listed gets one message.
func seedOddFolders(t *testing.T, s matrixServer, c *imapclient.Client) map[string]string {
	t.Helper()
	got := map[string]string{}
	for i, f := range oddFolders {
		name := s.prefix + f.name(string(s.delim))
		before := listNames(t, c)
		if err := c.Create(name, nil).Wait(); err != nil {
			got[f.key] = refused
			t.Logf("folder %s: CREATE %q: %v", f.key, name, err)
			continue
		}
		leaf := newLeaf(before, listNames(t, c))
		switch {
		case leaf == "":
			got[f.key] = hiddenOutcome(t, s, name, i)
			continue
		case leaf == name:
			got[f.key] = kept
		default:
			got[f.key] = "listed as " + leaf
		}
		raw := fmt.Sprintf("Subject: odd folder %d\r\nX-Case: %s\r\n\r\nin %q\r\n", i, f.key, leaf)
		if err := appendOne(c, leaf, raw, nil, time.Date(2024, 2, 1+i, 12, 0, 0, 0, time.UTC)); err != nil {
			t.Fatalf("append to %q: %v", leaf, err)
		}
	}
	return got
}

// hiddenOutcome describes a folder that CREATE made but LIST does not
// show: whether it takes mail nobody can see. It appends over a
// connection of its own, which a refused APPEND may close (see
// seedEdgeMessages).
func hiddenOutcome(t *testing.T, s matrixServer, name string, i int) string {
	t.Helper()
	raw := fmt.Sprintf("Subject: hidden folder %d\r\n\r\nin %q\r\n", i, name)
	err := appendOne(s.dial(t, "alice"), name, raw, nil, time.Date(2024, 2, 1+i, 12, 0, 0, 0, time.UTC))
	if err == nil {
		return notListedTakesMail
	}
	t.Logf("APPEND to %q: %v", name, err)
	return notListed
}

// newLeaf returns the deepest name of after that before does not have: the
// folder a CREATE made, beside any parents it made on the way.
func newLeaf(before, after []string) string {
	leaf := ""
	for _, n := range after {
		if !slices.Contains(before, n) && len(n) > len(leaf) {
			leaf = n
		}
	}
	return leaf
}

// edgeMessages are messages servers store differently: a bare LF, and
// INTERNALDATEs far from today, each in a time zone other than UTC where
// it can be.
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

// seedEdgeMessages appends the edge messages to the folder Edge and says
// what the server serves for each. After a refused APPEND the next one
// goes over a new connection: a server without LITERAL+ (Courier) refuses
// before the literal is sent, and go-imap's client then closes the
// connection.
func seedEdgeMessages(t *testing.T, s matrixServer) map[string]string {
	t.Helper()
	folder := s.prefix + "Edge"
	c := s.dial(t, "alice")
	if err := c.Create(folder, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range edgeMessages {
		if err := appendOne(c, folder, m.raw, []imap.Flag{imap.FlagSeen}, m.date); err != nil {
			got[m.key] = refused
			t.Logf("message %s: APPEND: %v", m.key, err)
			c = s.dial(t, "alice")
		}
	}
	served := fetchAll(t, c, folder)
	for _, m := range edgeMessages {
		if got[m.key] == refused {
			continue
		}
		got[m.key] = edgeOutcome(t, m.key, []byte(m.raw), m.date, served)
	}
	return got
}

// edgeOutcome describes how the server serves the edge message key.
func edgeOutcome(t *testing.T, key string, raw []byte, date time.Time, served []*imapclient.FetchMessageBuffer) string {
	t.Helper()
	for _, msg := range served {
		body := msg.FindBodySection(&imap.FetchItemBodySection{})
		if !bytes.Contains(body, []byte("X-Case: "+key+"\r")) && !bytes.Contains(body, []byte("X-Case: "+key+"\n")) {
			continue
		}
		if key == "bare LF" {
			return bytesOutcome(raw, body)
		}
		if !bytes.Equal(body, raw) {
			t.Errorf("message %s: served as %q, sent as %q", key, body, raw)
		}
		return dateOutcome(date, msg.InternalDate)
	}
	return "not served"
}

func bytesOutcome(sent, served []byte) string {
	toCRLF := bytes.ReplaceAll(sent, []byte("\n"), []byte("\r\n"))
	head, body, _ := bytes.Cut(sent, []byte("\n\n"))
	switch {
	case bytes.Equal(served, sent):
		return kept
	case bytes.Equal(served, toCRLF):
		return crlf
	case bytes.Equal(served, slices.Concat(bytes.ReplaceAll(head, []byte("\n"), []byte("\r\n")), []byte("\r\n\r\n"), body)):
		return "header CRLF, body kept"
	}
	return fmt.Sprintf("served as %q", served)
}

func dateOutcome(sent, served time.Time) string {
	_, sentOff := sent.Zone()
	_, servedOff := served.Zone()
	switch {
	case served.Equal(sent) && sentOff == servedOff:
		return kept
	case served.Equal(sent) && servedOff == 0:
		return keptUTC
	case served.Sub(time.Now()).Abs() < 10*time.Minute:
		return appendTime
	}
	return "served as " + served.UTC().Format(time.RFC3339)
}

// checkOutcomes compares what the server did with each hard case with
// what it is known to do.
func checkOutcomes(t *testing.T, kind string, got, want map[string]string) {
	t.Helper()
	for key, w := range want {
		if got[key] != w {
			t.Errorf("%s %s: %s, want %s", kind, key, got[key], w)
		}
	}
	for key, g := range got {
		if _, ok := want[key]; !ok {
			t.Errorf("%s %s: %s, and no expectation", kind, key, g)
		}
	}
}

// appendOne appends one message and waits for the answer.
func appendOne(c *imapclient.Client, folder, raw string, flags []imap.Flag, date time.Time) error {
	cmd := c.Append(folder, int64(len(raw)), &imap.AppendOptions{Flags: flags, Time: date})
	_, werr := cmd.Write([]byte(raw))
	if err := errors.Join(werr, cmd.Close()); err != nil {
		return err
	}
	_, err := cmd.Wait()
	return err
}

// fetchAll returns every message of folder with its UID, flags, date and
// bytes, opening the folder read-only.
func fetchAll(t *testing.T, c *imapclient.Client, folder string) []*imapclient.FetchMessageBuffer {
	t.Helper()
	sel, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("examine %q: %v", folder, err)
	}
	if sel.NumMessages == 0 {
		return nil
	}
	opts := &imap.FetchOptions{UID: true, Flags: true, InternalDate: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}}}
	msgs, err := c.Fetch(imap.UIDSet{{Start: 1, Stop: 0}}, opts).Collect()
	if err != nil {
		t.Fatalf("fetch %q: %v", folder, err)
	}
	return msgs
}

// countServed counts the selectable folders and the messages in them.
func countServed(t *testing.T, c *imapclient.Client) (folders, messages int) {
	t.Helper()
	for _, name := range listNames(t, c) {
		st, err := c.Status(name, &imap.StatusOptions{NumMessages: true}).Wait()
		if err != nil {
			t.Fatalf("status %q: %v", name, err)
		}
		folders++
		messages += int(*st.NumMessages)
	}
	return folders, messages
}

// flagAndExpunge adds a keyword to the first INBOX message and expunges
// the second, closing the folder with CLOSE (UNSELECT is an extension).
func flagAndExpunge(t *testing.T, c *imapclient.Client) {
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
	if err := c.UnselectAndExpunge().Wait(); err != nil {
		t.Fatal(err)
	}
}
