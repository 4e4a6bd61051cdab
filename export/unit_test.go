package export

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/archive"
)

func TestFolderDir(t *testing.T) {
	tests := []struct{ name, want string }{
		{"INBOX", "INBOX"},
		{"Archive/2024", "Archive/2024"},
		{"x.eml", "x%2Eeml"},
		{"x.eml/y.eml", "x%2Eeml/y%2Eeml"},
		{".eml", "%2Eeml"},
		{"a.mbox", "a.mbox"},
		{"..", "%2E."},
		{"20240101-000000-m1.1.eml", "20240101-000000-m1.1%2Eeml"},
	}
	for _, tt := range tests {
		got, err := folderDir(archive.FolderDir(tt.name, '/'), ".eml")
		if err != nil || got != tt.want {
			t.Errorf("%q: %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "../x", "/abs", "a/../../b"} {
		if got, err := folderDir(bad, ".eml"); err == nil {
			t.Errorf("folderDir(%q) = %q, want an error", bad, got)
		}
	}
}

// FuzzFolderDir: distinct folders get distinct directories, inside the
// export, none of which is named like a file of the export or a temp file.
func FuzzFolderDir(f *testing.F) {
	for _, s := range [][2]string{{"x.eml", "x%2Eeml"}, {".eml", "%2Eeml"}, {"a/b.mbox", "a/b%2Embox"},
		{"INBOX", "inbox"}, {"%2Eeml", ".eml"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, ext := range []string{".eml", ".mbox"} {
			da, erra := folderDir(archive.FolderDir(a, '/'), ext)
			db, errb := folderDir(archive.FolderDir(b, '/'), ext)
			if erra != nil || errb != nil {
				t.Fatalf("%q: %v, %q: %v", a, erra, b, errb)
			}
			if da == db && archive.FolderDir(a, '/') != archive.FolderDir(b, '/') {
				t.Errorf("%q and %q both map to %q", a, b, da)
			}
			if !filepath.IsLocal(da) {
				t.Errorf("%q maps to %q, outside", a, da)
			}
			for _, c := range strings.Split(da, "/") {
				if strings.HasSuffix(c, ext) || isTempName(c) || strings.HasPrefix(c, ".") {
					t.Errorf("%q: component %q of %q could be a file of the export", a, c, da)
				}
			}
		}
	})
}

func TestEMLName(t *testing.T) {
	m := archive.Message{Key: "m7.42", InternalDate: time.Date(2024, 2, 3, 4, 5, 6, 0, time.FixedZone("", -5*3600))}
	if got, want := emlName(m), "20240203-090506-m7.42.eml"; got != want {
		t.Errorf("emlName = %q, want %q", got, want)
	}
}

func TestIsTempName(t *testing.T) {
	for name, want := range map[string]bool{
		".mailkeep-0123456789abcdef.tmp": true,
		".mailkeep-0123456789abcde.tmp":  false,
		".mailkeep-0123456789abcdeg.tmp": false,
		"mailkeep-0123456789abcdef.tmp":  false,
		".mailkeep-0123456789abcdef.eml": false,
	} {
		if got := isTempName(name); got != want {
			t.Errorf("isTempName(%q) = %v", name, got)
		}
	}
}

func TestParseDate(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	now := time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC)
	age := func(s string) (time.Duration, error) {
		if s == "3d" {
			return 72 * time.Hour, nil
		}
		return 0, errors.New("no")
	}
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2026-11-01", time.Date(2026, 11, 1, 0, 0, 0, 0, loc)},
		{"2026-11-01T08:30", time.Date(2026, 11, 1, 8, 30, 0, 0, loc)},
		{"2026-11-01 08:30:15", time.Date(2026, 11, 1, 8, 30, 15, 0, loc)},
		{"2026-11-01T08:30:00Z", time.Date(2026, 11, 1, 8, 30, 0, 0, time.UTC)},
		{" 3d ", now.Add(-72 * time.Hour)},
	}
	for _, tt := range tests {
		got, err := ParseDate(tt.in, now, loc, age)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ParseDate(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "2026-13-01", "-3d"} {
		if got, err := ParseDate(bad, now, loc, age); err == nil {
			t.Errorf("ParseDate(%q) = %v, want an error", bad, got)
		}
	}
}

// A message that fails its check on a stream is never written, unless it
// was too large to hold back.
func TestStreamOutHoldsBack(t *testing.T) {
	var out bytes.Buffer
	o := &streamOut{w: bufio.NewWriter(&out)}
	o.mark()
	o.Write([]byte("one\n"))
	o.mark()
	o.Write([]byte("damaged"))
	if err := o.rollback(); err != nil {
		t.Fatal(err)
	}
	o.mark()
	big := bytes.Repeat([]byte("x"), holdLimit+1)
	o.Write(big)
	if err := o.rollback(); err == nil {
		t.Error("rollback of a message larger than holdLimit succeeded")
	}
	o.finish()
	if !bytes.HasPrefix(out.Bytes(), []byte("one\nxxx")) || out.Len() != 4+len(big) {
		t.Errorf("stream holds %d bytes: %.20q…", out.Len(), out.Bytes())
	}
}

// A message that fails its check is cut off the mbox file, wherever the
// buffer stood.
func TestFileOutRollback(t *testing.T) {
	tr, err := openTree(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.close()
	f, tmp, err := tr.temp(".")
	if err != nil {
		t.Fatal(err)
	}
	o := &fileOut{t: tr, p: pending{f: f, tmp: tmp, final: "x.mbox"}}
	o.cw.w = f
	o.bw = bufio.NewWriterSize(&o.cw, 16)
	var want bytes.Buffer
	for i, n := range []int{3, 40, 5, 100, 7} {
		o.mark()
		msg := bytes.Repeat([]byte{byte('a' + i)}, n)
		o.Write(msg)
		if i%2 == 1 {
			if err := o.rollback(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want.Write(msg)
	}
	if err := o.finish(); err != nil {
		t.Fatal(err)
	}
	got, err := tr.root.ReadFile("x.mbox")
	if err != nil || !bytes.Equal(got, want.Bytes()) {
		t.Errorf("mbox %q, %v; want %q", got, err, want.Bytes())
	}
	if entries, _ := tr.entries("."); len(entries) != 1 {
		t.Errorf("files %v", entries)
	}
}

// TestMaildirKeywordAfterBegin: a message with a keyword that the flags
// read when its folder began did not have (a backup recorded it meanwhile)
// gets the keyword into dovecot-keywords before its file is written.
func TestMaildirKeywordAfterBegin(t *testing.T) {
	dir := t.TempDir()
	tr, err := openTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	d := &maildirFormat{t: tr}
	defer d.close()
	f := archive.ViewFolder{FolderState: archive.FolderState{Name: "INBOX", Dir: "INBOX"}}
	s, err := d.folder(f, func() ([][]string, error) { return [][]string{{`\Seen`, "$Early"}}, nil })
	if err != nil {
		t.Fatal(err)
	}
	raw := "Subject: late\r\n\r\nbody\r\n"
	m := archive.Message{ID: 1, Key: "m1.1", Size: int64(len(raw)), VSize: int64(len(raw)), Flags: []string{"$Late"},
		InternalDate: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
	if _, err := s.write(m, func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(raw)), nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.finish(); err != nil {
		t.Fatal(err)
	}
	md := filepath.Join(dir, "INBOX", archive.MaildirLevel)
	data, err := os.ReadFile(filepath.Join(md, keywordsFile))
	if err != nil {
		t.Fatal(err)
	}
	kw, err := archive.ParseKeywordsFile(data)
	if err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(md, "cur", "*"))
	if len(names) != 1 {
		t.Fatalf("cur holds %v, want one file", names)
	}
	mf, err := archive.ParseMessageFile(filepath.Base(names[0]))
	if err != nil {
		t.Fatal(err)
	}
	if flags, err := kw.Flags(mf.Flags); err != nil || !slices.Equal(flags, []string{"$Late"}) {
		t.Errorf("the file's letters %q mean %q (%v) by dovecot-keywords %q, want $Late", mf.Flags, flags, err, data)
	}
}
