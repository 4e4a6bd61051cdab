package dovecottest_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/klauspost/compress/zstd"

	"github.com/mailkeep/mailkeep/internal/dovecottest"
)

// archivedMsg is one message file of a hand-made archive tree.
type archivedMsg struct {
	folderDir string // on-disk folder directory, modified UTF-7
	raw       string
	date      time.Time
}

var archived = []archivedMsg{
	{"INBOX", "From: a@example.org\r\nSubject: archived\r\n\r\n.dot line\r\n..two dots\r\nend\r\n",
		time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)},
	{"Entw&APw-rfe", "Subject: draft\r\n\r\nnot sent\r\n", time.Date(2022, 1, 2, 3, 4, 5, 0, time.UTC)},
	{"cur", "Subject: in a folder named cur\r\n\r\nx\r\n", time.Date(2023, 6, 7, 8, 9, 10, 0, time.UTC)},
}

func TestServeArchive(t *testing.T) {
	t.Parallel()
	mailDir := filepath.Join(t.TempDir(), "mail")
	for _, m := range archived {
		writeArchived(t, mailDir, m)
	}
	before := treeListing(t, mailDir)
	s := dovecottest.ServeArchive(t, mailDir)
	c := s.Dial(t, dovecottest.ArchiveUser)

	if got, want := listNames(t, c), []string{"Entwürfe", "INBOX", "cur"}; !slices.Equal(got, want) {
		t.Errorf("LIST = %q, want %q", got, want)
	}
	for i, m := range archived {
		checkArchived(t, s, c, []string{"INBOX", "Entwürfe", "cur"}[i], m)
	}
	if after := treeListing(t, mailDir); !slices.Equal(before, after) {
		t.Errorf("serving changed the original tree:\nbefore %q\nafter  %q", before, after)
	}
	if _, err := os.Stat(filepath.Join(s.MailDir(dovecottest.ArchiveUser), "INBOX", ".mk", "dovecot-uidlist")); err != nil {
		t.Errorf("Dovecot wrote no uidlist into the copy: %v", err)
	}
}

// writeArchived writes m as mailkeep does: <folder>/.mk/cur/<name>, zstd,
// mtime = INTERNALDATE, keyword 0 = Projekt-X.
func writeArchived(t *testing.T, mailDir string, m archivedMsg) {
	t.Helper()
	mk := filepath.Join(mailDir, m.folderDir, ".mk")
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(mk, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(mk, "dovecot-keywords"), []byte("0 Projekt-X\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("m1.1,S=%d,W=%d:2,Sa", len(m.raw), len(m.raw))
	path := filepath.Join(mk, "cur", name)
	if err := os.WriteFile(path, compress(t, m.raw), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, m.date, m.date); err != nil {
		t.Fatal(err)
	}
}

func compress(t *testing.T, raw string) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll([]byte(raw), nil)
}

func checkArchived(t *testing.T, s *dovecottest.Server, c *imapclient.Client, mbox string, m archivedMsg) {
	t.Helper()
	if _, err := c.Select(mbox, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatalf("select %s: %v\n%s", mbox, err, s.LogTail(20))
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{
		Flags: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("fetch %s: %d messages, %v\n%s", mbox, len(msgs), err, s.LogTail(20))
	}
	got := msgs[0]
	if body := got.FindBodySection(&imap.FetchItemBodySection{}); !bytes.Equal(body, []byte(m.raw)) {
		t.Errorf("%s: body %q, want %q", mbox, body, m.raw)
	}
	if flags := withoutRecent(got.Flags); !slices.Equal(flags, []imap.Flag{"Projekt-X", imap.FlagSeen}) {
		t.Errorf("%s: flags %v, want [\\Seen Projekt-X]", mbox, flags)
	}
	if !got.InternalDate.Equal(m.date) {
		t.Errorf("%s: INTERNALDATE %v, want %v", mbox, got.InternalDate, m.date)
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

func withoutRecent(flags []imap.Flag) []imap.Flag {
	flags = slices.DeleteFunc(slices.Clone(flags), func(f imap.Flag) bool { return f == "\\Recent" })
	slices.Sort(flags)
	return flags
}

// treeListing lists every path under root with its size and mtime.
func treeListing(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s %d %v", p, info.Size(), info.ModTime().UnixNano()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
