package serve_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/klauspost/compress/zstd"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/serve"
)

// TestDamagedMessages: a message whose file is missing is left out of a
// FETCH, which ends NO and names it; one whose file is damaged never
// arrives complete: the connection ends before its last byte. Other
// messages, and other sessions, are served.
func TestDamagedMessages(t *testing.T) {
	t.Parallel()
	src := newSource(t, corpus.Generate(corpus.Options{Seed: 16, Count: 10, Folders: []string{"INBOX"}}))
	files := inboxFiles(t, src.root, src.user)
	missing, damaged := files[2], files[4]
	if err := os.Remove(missing.path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(damaged.path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x55
	if err := os.WriteFile(damaged.path, data, 0o640); err != nil {
		t.Fatal(err)
	}
	// A file that decodes, to a message with its last byte changed: only
	// the check against the catalog's SHA-256 at the end of the stream
	// catches it.
	altered := files[6]
	rewriteMessage(t, altered.path, func(msg []byte) { msg[len(msg)-1] ^= 0x01 })
	sv := startServe(t, src.root, serve.Options{Accounts: []string{src.user}})

	r := loginRaw(t, sv.addr, src.user, password)
	r.do("EXAMINE INBOX")
	resps, st := r.do("UID FETCH 1:* (UID RFC822.SIZE)")
	if len(resps) != len(files) || !strings.HasPrefix(st, "OK") {
		t.Errorf("sizes come from the catalog: %d answers, %s", len(resps), st)
	}
	resps, st = r.do(`UID FETCH ` + uidText(missing.uid) + `,` + uidText(files[0].uid) + ` (BODY.PEEK[])`)
	if len(resps) != 1 || !strings.HasPrefix(st, "NO [UNAVAILABLE]") || !strings.Contains(st, "UID "+uidText(missing.uid)) {
		t.Errorf("a missing file: %d answers, %s", len(resps), st)
	}
	// Every item checks the whole message first, also those that need only
	// a part of it: a header, a window, the envelope.
	for _, item := range []string{"BODY.PEEK[]", "BODY.PEEK[TEXT]", "BODYSTRUCTURE", "BODY.PEEK[HEADER]", "BODY.PEEK[]<0.100>", "ENVELOPE"} {
		c := sv.dial(t, src.user)
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		opts := &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}
		switch item {
		case "BODY.PEEK[TEXT]":
			opts.BodySection[0].Specifier = imap.PartSpecifierText
		case "BODYSTRUCTURE":
			opts = &imap.FetchOptions{BodyStructure: &imap.FetchItemBodyStructure{Extended: true}}
		case "BODY.PEEK[HEADER]":
			opts.BodySection[0].Specifier = imap.PartSpecifierHeader
		case "BODY.PEEK[]<0.100>":
			opts.BodySection[0].Partial = &imap.SectionPartial{Offset: 0, Size: 100}
		case "ENVELOPE":
			opts = &imap.FetchOptions{Envelope: true}
		}
		for _, bad := range []archivedFile{damaged, altered} {
			msgs, err := c.Fetch(imap.UIDSetNum(bad.uid), opts).Collect()
			if err == nil && len(msgs) > 0 && (len(msgs[0].BodySection) > 0 || msgs[0].BodyStructure != nil || msgs[0].Envelope != nil) {
				t.Errorf("%s of a damaged message arrived: %+v", item, msgs[0])
			}
			if err != nil { // the connection ended: a new one for the next
				c = sv.dial(t, src.user)
				if _, err := c.Select("INBOX", nil).Wait(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	c := sv.dial(t, src.user)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.UIDSetNum(files[0].uid, files[9].uid), &imap.FetchOptions{
		BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil || len(msgs) != 2 {
		t.Errorf("the intact messages after it: %d, %v", len(msgs), err)
	}
	if !strings.Contains(sv.log.String(), "is damaged") {
		t.Errorf("the damage is not logged:\n%s", sv.log.String())
	}
}

// rewriteMessage decodes the message file at path, lets change alter it,
// and writes it back encoded.
func rewriteMessage(t *testing.T, path string, change func([]byte)) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	msg, err := dec.DecodeAll(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	change(msg)
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, enc.EncodeAll(msg, nil), 0o600); err != nil {
		t.Fatal(err)
	}
}

type archivedFile struct {
	uid  imap.UID
	path string
}

// inboxFiles lists INBOX's messages by UID with their files.
func inboxFiles(t *testing.T, root, account string) []archivedFile {
	t.Helper()
	ctx := context.Background()
	snap, err := archive.OpenSnapshot(ctx, root, account)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	folders, err := snap.Folders(ctx, archive.View{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range folders {
		if f.Name != "INBOX" {
			continue
		}
		msgs, err := snap.Messages(ctx, f.ID, archive.View{})
		if err != nil {
			t.Fatal(err)
		}
		var out []archivedFile
		for _, m := range msgs {
			out = append(out, archivedFile{imap.UID(m.UID), filepath.Join(root, account, "mail", f.Dir, archive.MaildirLevel, "cur", m.File)})
		}
		return out
	}
	t.Fatal("no INBOX")
	return nil
}

func uidText(u imap.UID) string { return strconv.FormatUint(uint64(u), 10) }
