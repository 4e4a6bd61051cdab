package index

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/archive"
)

// corpusMsg places one test message in the catalog.
type corpusMsg struct {
	name   string // testdata/corpus/<name>.eml, or a generated message
	folder string
	date   string // INTERNALDATE, RFC 3339
	flags  []string
}

var corpus = []corpusMsg{
	{"plain", "INBOX", "2019-04-15T10:00:00+02:00", []string{`\Seen`}},
	{"latin1", "INBOX", "2020-03-03T09:15:00+01:00", []string{`\Seen`, `\Flagged`}},
	{"cp1252", "Archive/2020", "2020-06-10T14:00:00+02:00", []string{`\Seen`}},
	{"koi8r", "Archive/2020", "2020-10-01T08:00:00+03:00", nil},
	{"sjis", "INBOX", "2021-01-15T12:00:00+09:00", []string{`\Answered`, `\Seen`}},
	{"gb2312", "INBOX", "2021-02-01T09:00:00+08:00", nil},
	{"html_only", "Newsletters", "2021-03-20T07:00:00Z", []string{`\Seen`}},
	{"nested", "INBOX", "2021-08-02T10:00:00Z", []string{`\Seen`, "$Forwarded"}},
	{"rfc2231", "Entwürfe", "2021-09-07T16:00:00+02:00", []string{`\Draft`}},
	{"noheaders", "INBOX", "2021-10-01T00:00:00Z", nil},
	{"garbage", "INBOX", "2021-10-02T00:00:00Z", nil},
	{"cjk", "INBOX", "2021-11-10T10:00:00+08:00", []string{"important"}},
	{"accents", "Archive/2021", "2021-12-02T15:00:00+01:00", []string{`\Seen`}},
	{"badcharset", "Junk", "2022-01-07T10:00:00Z", []string{`\Deleted`}},
	{"badbase64", "Junk", "2022-01-08T10:00:00Z", nil},
	{"big", "INBOX", "2022-02-01T00:00:00Z", nil},
}

// bigMessage is a message with a 2 MB base64 attachment.
func bigMessage() []byte {
	blob := make([]byte, 2<<20)
	r := rand.NewChaCha8([32]byte{1})
	r.Read(blob)
	var b bytes.Buffer
	b.WriteString("From: Grace <grace@example.com>\r\nTo: alice@example.com\r\nSubject: Holiday photos\r\n" +
		"Message-ID: <photos@example.com>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\n" +
		"The big attachment holds an aardvark.\r\n--zz\r\nContent-Type: application/zip\r\n" +
		"Content-Disposition: attachment; filename=\"holiday-photos.zip\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(blob)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--zz--\r\n")
	return b.Bytes()
}

func corpusData(t testing.TB, name string) []byte {
	if name == "big" {
		return bigMessage()
	}
	data, err := os.ReadFile(filepath.Join("testdata", "corpus", name+".eml"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// fixture is an account directory with a real catalog (made with the
// archive package's catalog API alone), the messages' bytes in memory, and
// an index.
type fixture struct {
	dir   string
	cat   *archive.Catalog
	src   *memSource
	ix    *Index
	names map[string]int64 // corpus name → catalog row id
	run   int64
}

// memSource is a Source over a catalog and messages held in memory.
type memSource struct {
	cat     *archive.Catalog
	content map[string][]byte // folder + "\x00" + key → bytes
	openErr map[string]error
}

func (s *memSource) Messages(ctx context.Context, fn func(MessageInfo) error) error {
	folders, err := s.cat.Folders(ctx)
	if err != nil {
		return err
	}
	var all []MessageInfo
	for _, f := range folders {
		ms, err := s.cat.FolderMessages(ctx, f.ID)
		if err != nil {
			return err
		}
		for _, m := range ms {
			all = append(all, MessageInfo{ID: m.ID, Folder: f.Name, Key: m.Key, Size: m.Size, Date: m.InternalDate})
		}
	}
	slices.SortFunc(all, func(a, b MessageInfo) int { return int(a.ID - b.ID) })
	for _, m := range all {
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

func (s *memSource) Open(ctx context.Context, m MessageInfo) (io.ReadCloser, error) {
	k := m.Folder + "\x00" + m.Key
	if err := s.openErr[k]; err != nil {
		return nil, err
	}
	data, ok := s.content[k]
	if !ok {
		return nil, fmt.Errorf("no message %s", m.Key)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func newFixture(t testing.TB) *fixture {
	ctx := context.Background()
	dir := t.TempDir()
	cat, err := archive.OpenCatalog(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	run, err := cat.BeginRun(ctx, "backup", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{dir: dir, cat: cat, run: run, names: map[string]int64{},
		src: &memSource{cat: cat, content: map[string][]byte{}, openErr: map[string]error{}}}
	ix, err := Open(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	fx.ix = ix
	return fx
}

// add records messages in the catalog, one folder at a time.
func (fx *fixture) add(t testing.TB, msgs []corpusMsg) {
	ctx := context.Background()
	for _, c := range msgs {
		data := corpusData(t, c.name)
		m := fx.message(t, c, data, uint32(fx.uid(c.name)))
		if err := fx.cat.AddMessages(ctx, []archive.Message{m}, fx.run); err != nil {
			t.Fatal(err)
		}
		fx.src.content[c.folder+"\x00"+m.Key] = data
	}
	for _, c := range msgs {
		fx.names[c.name] = fx.rowID(t, c.folder, c.name)
	}
}

func (fx *fixture) message(t testing.TB, c corpusMsg, data []byte, uid uint32) archive.Message {
	f := &archive.Folder{Name: c.folder, Delim: '/', Rel: archive.FolderDir(c.folder, '/')}
	st, err := fx.cat.EnsureFolder(context.Background(), f, fx.run)
	if err != nil {
		t.Fatal(err)
	}
	date, err := time.Parse(time.RFC3339, c.date)
	if err != nil {
		t.Fatal(err)
	}
	key := archive.IMAPKey(1, uid)
	size := int64(len(data))
	return archive.Message{FolderID: st.ID, UIDValidity: 1, UID: uid, Key: key, SHA256: sha256.Sum256(data),
		File: archive.MessageFile{Key: key, Size: size, VSize: size}.Name(), Size: size, VSize: size,
		InternalDate: date, Flags: c.flags, MessageID: archive.MessageID(data)}
}

// rowID finds the catalog row of a corpus message by its content.
func (fx *fixture) rowID(t testing.TB, folder, name string) int64 {
	ctx := context.Background()
	folders, err := fx.cat.Folders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(corpusData(t, name))
	for _, f := range folders {
		ms, err := fx.cat.FolderMessages(ctx, f.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if f.Name == folder && m.SHA256 == want {
				return m.ID
			}
		}
	}
	t.Fatalf("no row for %s", name)
	return 0
}

// handle returns a corpus message's handle.
func (fx *fixture) handle(t testing.TB, name string) string {
	for _, c := range corpus {
		if c.name == name {
			return archive.Handle(c.folder, archive.IMAPKey(1, uint32(fx.uid(name))))
		}
	}
	t.Fatalf("no corpus message %s", name)
	return ""
}

func (fx *fixture) uid(name string) int {
	return slices.IndexFunc(corpus, func(c corpusMsg) bool { return c.name == name }) + 1
}

// fullFixture holds the whole corpus, indexed by Catchup, with one message
// gone and one deleted from the server by POP3 delete mode.
func fullFixture(t testing.TB) *fixture {
	fx := newFixture(t)
	fx.add(t, corpus)
	ctx := context.Background()
	if n, err := fx.ix.Catchup(ctx, fx.src); err != nil || n != len(corpus) {
		t.Fatalf("catchup: %d, %v", n, err)
	}
	if err := fx.cat.MarkGone(ctx, []int64{fx.names["html_only"], fx.names["koi8r"]}, fx.run); err != nil {
		t.Fatal(err)
	}
	koi8r := corpus[fx.uid("koi8r")-1]
	st, err := fx.cat.Folders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range st {
		if f.Name == koi8r.folder {
			if err := fx.cat.MarkServerDeleted(ctx, f.ID, []string{archive.IMAPKey(1, uint32(fx.uid("koi8r")))}, fx.run); err != nil {
				t.Fatal(err)
			}
		}
	}
	return fx
}

// names returns the corpus names of hits, sorted.
func (fx *fixture) hitNames(t testing.TB, hits []Hit) []string {
	var out []string
	for _, h := range hits {
		found := ""
		for _, c := range corpus {
			if fx.handle(t, c.name) == h.Handle {
				found = c.name
			}
		}
		if found == "" {
			t.Fatalf("hit %s is no corpus message", h.Handle)
		}
		out = append(out, found)
	}
	slices.Sort(out)
	return out
}

// except returns every corpus name but those given, sorted.
func except(names ...string) []string {
	var out []string
	for _, c := range corpus {
		if !slices.Contains(names, c.name) {
			out = append(out, c.name)
		}
	}
	slices.Sort(out)
	return out
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}
