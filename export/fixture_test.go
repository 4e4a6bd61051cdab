package export_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
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

// hostileFolders are folder names that try to escape the export or to
// collide with its files and Maildir internals.
var hostileFolders = []string{"..", "../../escape", "cur", "tmp", ".mk", "a.b", "x.eml", "y.mbox",
	"y.mbox/child", "20240101-000000-m1.1.eml", "%41", "~home", "tab\there", "Entwürfe/..", "INBOX.mbox"}

// fromMessages are INBOX messages for the mbox quoting and the envelope sender.
var fromMessages = []struct{ raw, sender string }{
	{"Return-Path: <bounce+x@list.example>\r\nFrom: A <a@example.org>\r\nSubject: from lines\r\n\r\n" +
		"From the start of a line\r\n>From quoted once\r\n>>From quoted twice\r\nFrom\r\n From not at the start\r\n" +
		"\r\nFrom the end\r\n", "bounce+x@list.example"},
	{"From: \"Doe, Jane\" <jane@example.org>\r\nSubject: empty lines at the end\r\n\r\nFrom x\r\n\r\n\r\n", "jane@example.org"},
	{"Return-Path: <>\r\nFrom: postmaster@example.org\r\nSubject: a bounce\r\n\r\nFrom here\r\n", "MAILER-DAEMON"},
	{"Subject: no sender at all\r\n\r\n>From", "MAILER-DAEMON"},
}

// fixture is an archive of alice's account on a Dovecot that accepts any
// folder name, backed up twice: run 1 with everything, run 2 after a flag
// change and a deletion in INBOX.
type fixture struct {
	srv     *dovecottest.Server
	src     *imapclient.Client // alice on srv
	root    string             // the archive root; the account is "alice"
	run1    int64
	total   int // messages in the latest state
	senders map[[32]byte]string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := t.Context()
	fx := &fixture{root: t.TempDir(), senders: map[[32]byte]string{}}
	fx.srv = dovecottest.Start(t, dovecottest.Options{MailLocation: dovecottest.AnyNameLocation})
	fx.src = fx.srv.Dial(t, "alice")
	msgs := corpus.Generate(corpus.Options{Seed: 5, Count: 60, Big: 2 << 20})
	date := time.Date(2023, 5, 6, 7, 8, 9, 0, time.FixedZone("", 2*3600))
	for i, m := range fromMessages {
		msgs = append(msgs, corpus.Message{Folder: "INBOX", Raw: []byte(m.raw), Date: date.Add(time.Duration(i) * time.Hour)})
		fx.senders[sha256.Sum256([]byte(m.raw))] = m.sender
	}
	if err := corpus.Load(ctx, fx.src, msgs); err != nil {
		t.Fatal(err)
	}
	fx.addHostile(t, date)
	fx.run1 = fx.backup(t)
	flagAndDelete(t, fx.src)
	fx.backup(t)
	return fx
}

func (fx *fixture) addHostile(t *testing.T, date time.Time) {
	t.Helper()
	n := 0
	for i, name := range hostileFolders {
		if err := fx.src.Create(name, nil).Wait(); err != nil {
			t.Logf("Dovecot refuses %q: %v", name, err)
			continue
		}
		raw := fmt.Sprintf("From: h@example.org\r\nSubject: %d\r\n\r\nFrom folder %q\r\n", i, name)
		cmd := fx.src.Append(name, int64(len(raw)), &imap.AppendOptions{Time: date})
		cmd.Write([]byte(raw))
		cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			t.Fatalf("append to %q: %v", name, err)
		}
		n++
	}
	if n < 10 {
		t.Fatalf("Dovecot accepted only %d of the hostile names", n)
	}
}

func (fx *fixture) backup(t *testing.T) int64 {
	t.Helper()
	ctx := t.Context()
	a, err := archive.OpenWriter(ctx, fx.root, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	host, port, _ := strings.Cut(fx.srv.IMAPAddr, ":")
	var p int
	fmt.Sscan(port, &p)
	ep := transport.Endpoint{Host: host, Port: p, TLS: config.TLSNone, Username: "alice",
		Secret: func(context.Context) (string, error) { return fx.srv.Password("alice"), nil }}
	dial := func(ctx context.Context) (*imapclient.Client, error) {
		return transport.DialIMAP(ctx, ep, transport.IMAPOptions{})
	}
	res, err := backup.IMAP(ctx, a, backup.Options{Dial: dial})
	if err != nil || res.Outcome != archive.OutcomeOK {
		t.Fatalf("backup: %v (%+v)", err, res)
	}
	return res.RunID
}

// flagAndDelete flags the first INBOX message with \Flagged and a new
// keyword, and expunges the second.
func flagAndDelete(t *testing.T, c *imapclient.Client) {
	t.Helper()
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
		Flags: []imap.Flag{imap.FlagFlagged, "$Later"}}, nil).Close()
	if err == nil {
		err = c.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
			Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
	}
	if err == nil {
		err = c.Expunge().Close()
	}
	if err == nil {
		err = c.Unselect().Wait()
	}
	if err != nil {
		t.Fatal(err)
	}
}

// refFolder is a folder of the archive as the reference sees it.
type refFolder struct {
	archive.ViewFolder
	msgs []refMsg
}

type refMsg struct {
	archive.Message
	raw []byte
}

// reference reads a view of the fixture's archive (or of a copy at root)
// through the archive's read path: what every export is compared with.
func reference(t *testing.T, root string, v archive.View) []refFolder {
	t.Helper()
	ctx := t.Context()
	snap, err := archive.OpenSnapshot(ctx, root, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	folders, err := snap.Folders(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	var out []refFolder
	for _, f := range folders {
		msgs, err := snap.Messages(ctx, f.ID, v)
		if err != nil {
			t.Fatal(err)
		}
		af, err := snap.Folder(f.FolderState)
		if err != nil {
			t.Fatal(err)
		}
		rf := refFolder{ViewFolder: f}
		for _, m := range msgs {
			raw, err := readMessage(af, m)
			if err != nil {
				t.Fatalf("reference %s %s: %v", f.Name, m.Key, err)
			}
			rf.msgs = append(rf.msgs, refMsg{m, raw})
		}
		out = append(out, rf)
	}
	return out
}

func readMessage(af *archive.Folder, m archive.Message) ([]byte, error) {
	rc, err := af.OpenMessage(m)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// count is the number of messages in a reference.
func count(ref []refFolder) int {
	n := 0
	for _, f := range ref {
		n += len(f.msgs)
	}
	return n
}

// without drops messages from a reference.
func without(ref []refFolder, drop func(refMsg) bool) []refFolder {
	var out []refFolder
	for _, f := range ref {
		g := f
		g.msgs = slices.DeleteFunc(slices.Clone(f.msgs), drop)
		out = append(out, g)
	}
	return out
}

// exportPath is the documented directory of a folder in an eml or mbox
// export: the archive's, with a component that ends in ext ending in
// "%2E"+ext instead.
func exportPath(dir, ext string) string {
	parts := strings.Split(dir, "/")
	for i, p := range parts {
		if strings.HasSuffix(p, ext) {
			parts[i] = strings.TrimSuffix(p, ext) + "%2E" + ext[1:]
		}
	}
	return filepath.Join(parts...)
}

// pyMsg is a message as testdata/readback.py reads it.
type pyMsg struct {
	SHA256     string  `json:"sha256"`
	Size       int64   `json:"size"`
	SenderDate string  `json:"sender_date"`
	Key        string  `json:"key"`
	Subdir     string  `json:"subdir"`
	Flags      string  `json:"flags"`
	Mtime      float64 `json:"mtime"`
}

// readBack reads mbox files or Maildirs with Python's mailbox module.
func readBack(t *testing.T, kind string, paths []string) map[string][]pyMsg {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "python3", append([]string{"testdata/readback.py", kind}, paths...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("readback.py %s: %v\n%s", kind, err, stderr.String())
	}
	got := map[string][]pyMsg{}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	return got
}

func digest(raw []byte) string { return fmt.Sprintf("%x", sha256.Sum256(raw)) }

// walkFiles lists the files under dir (relative, slash-separated), and
// fails on temp files and on anything that is not a file or directory.
func walkFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.IsDir():
		case !d.Type().IsRegular():
			t.Errorf("not a regular file: %s", rel)
		case strings.HasPrefix(d.Name(), ".mailkeep-"):
			t.Errorf("temp file left behind: %s", rel)
		default:
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}
