package export_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/archive"
)

// checkMbox reads every folder's mbox back with Python's mailbox module
// and compares each message, un-quoted, with the reference, and its From
// line with its envelope sender and INTERNALDATE. It returns how many
// messages needed a final newline.
func checkMbox(t *testing.T, dir string, ref []refFolder, senders map[[32]byte]string) int {
	t.Helper()
	var paths, want []string
	for _, f := range ref {
		rel := exportPath(f.Dir, ".mbox") + ".mbox"
		paths, want = append(paths, filepath.Join(dir, rel)), append(want, filepath.ToSlash(rel))
	}
	got := readBack(t, "mbox", paths)
	newlines := 0
	for i, f := range ref {
		g := got[paths[i]]
		if len(g) != len(f.msgs) {
			t.Errorf("%q: %d messages in %s, want %d", f.Name, len(g), paths[i], len(f.msgs))
			continue
		}
		for j, m := range f.msgs {
			raw := m.raw
			if !bytes.HasSuffix(raw, []byte("\n")) {
				raw, newlines = append(slices.Clone(raw), '\n'), newlines+1
			}
			if g[j].SHA256 != digest(raw) || g[j].Size != int64(len(raw)) {
				t.Errorf("%q %s: mbox gives %d bytes %s, want %d bytes %s", f.Name, m.Key, g[j].Size, g[j].SHA256, len(raw), digest(raw))
			}
			sender, date, _ := strings.Cut(g[j].SenderDate, " ")
			if want := m.InternalDate.UTC().Format(time.ANSIC); date != want {
				t.Errorf("%q %s: From line date %q, want %q", f.Name, m.Key, date, want)
			}
			if s, ok := senders[m.SHA256]; ok && sender != s {
				t.Errorf("%q %s: envelope sender %q, want %q", f.Name, m.Key, sender, s)
			}
		}
	}
	slices.Sort(want)
	if files := walkFiles(t, dir); !slices.Equal(files, want) {
		t.Errorf("files %q\nwant %q", files, want)
	}
	return newlines
}

// checkEML reads every .eml file and compares it and its mtime with the
// reference.
func checkEML(t *testing.T, dir string, ref []refFolder) {
	t.Helper()
	var want []string
	for _, f := range ref {
		for _, m := range f.msgs {
			rel := filepath.Join(exportPath(f.Dir, ".eml"), m.InternalDate.UTC().Format("20060102-150405")+"-"+m.Key+".eml")
			want = append(want, filepath.ToSlash(rel))
			data, err := os.ReadFile(filepath.Join(dir, rel))
			if err != nil {
				t.Errorf("%q %s: %v", f.Name, m.Key, err)
				continue
			}
			if !bytes.Equal(data, m.raw) {
				t.Errorf("%q %s: %s differs from the archive", f.Name, m.Key, rel)
			}
			if fi, err := os.Stat(filepath.Join(dir, rel)); err != nil || !fi.ModTime().Equal(m.InternalDate) {
				t.Errorf("%q %s: mtime %v, want %v (%v)", f.Name, m.Key, fi.ModTime(), m.InternalDate, err)
			}
		}
	}
	slices.Sort(want)
	if files := walkFiles(t, dir); !slices.Equal(files, want) {
		t.Errorf("%d files, want %d:\n%q\nwant %q", len(files), len(want), files, want)
	}
}

// checkMaildir reads every folder's Maildir back with Python's mailbox
// module and compares each message, its flags (keywords through the
// folder's dovecot-keywords), its S= and W= and its mtime with the
// reference.
func checkMaildir(t *testing.T, dir string, ref []refFolder) {
	t.Helper()
	var paths []string
	for _, f := range ref {
		paths = append(paths, filepath.Join(dir, f.Dir, archive.MaildirLevel))
	}
	got := readBack(t, "maildir", paths)
	files := 0
	for i, f := range ref {
		kwData, _ := os.ReadFile(filepath.Join(paths[i], "dovecot-keywords"))
		kw, err := archive.ParseKeywordsFile(kwData)
		if err != nil {
			t.Fatalf("%q: %v", f.Name, err)
		}
		byKey := map[string]pyMsg{}
		for _, g := range got[paths[i]] {
			key, _, _ := strings.Cut(g.Key, ",")
			if _, dup := byKey[key]; dup {
				t.Errorf("%q: %s twice", f.Name, key)
			}
			byKey[key] = g
		}
		if len(byKey) != len(f.msgs) {
			t.Errorf("%q: %d messages in the Maildir, want %d", f.Name, len(byKey), len(f.msgs))
		}
		for _, m := range f.msgs {
			checkMaildirMessage(t, f.Name, kw, byKey[m.Key], m)
		}
		files += len(f.msgs) + 1
	}
	all := walkFiles(t, dir)
	for _, p := range all {
		if !strings.Contains(p, "/.mk/cur/") && !strings.HasSuffix(p, "/.mk/dovecot-keywords") {
			t.Errorf("unexpected file %s", p)
		}
	}
	if len(all) > files {
		t.Errorf("%d files, want at most %d", len(all), files)
	}
}

func checkMaildirMessage(t *testing.T, folder string, kw *archive.Keywords, g pyMsg, m refMsg) {
	t.Helper()
	if g.SHA256 != digest(m.raw) {
		t.Errorf("%q %s: Maildir gives %s (%d bytes), want %s", folder, m.Key, g.SHA256, g.Size, digest(m.raw))
	}
	if want := fmt.Sprintf("%s,S=%d,W=%d", m.Key, m.Size, m.VSize); g.Key != want || g.Subdir != "cur" {
		t.Errorf("%q: %s/%s, want cur/%s", folder, g.Subdir, g.Key, want)
	}
	flags, err := kw.Flags(g.Flags)
	if err != nil || !slices.Equal(normFlags(flags), normFlags(m.Flags)) {
		t.Errorf("%q %s: flags %q → %q (%v), want %q", folder, m.Key, g.Flags, flags, err, m.Flags)
	}
	if int64(g.Mtime) != m.InternalDate.Unix() {
		t.Errorf("%q %s: mtime %v, want %v", folder, m.Key, g.Mtime, m.InternalDate.Unix())
	}
}

func normFlags(flags []string) []string {
	var out []string
	for _, f := range flags {
		if f = strings.ToLower(f); f != `\recent` {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

// servedLines is a folder's messages as an IMAP server serves them:
// sorted "sha size flags date" lines.
func servedLines(t *testing.T, c *imapclient.Client, name string) []string {
	t.Helper()
	sel, err := c.Select(name, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("select %q: %v", name, err)
	}
	lines := []string{}
	if sel.NumMessages == 0 {
		return lines
	}
	opts := &imap.FetchOptions{Flags: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}
	bufs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, opts).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bufs {
		var raw []byte
		for _, v := range b.BodySection {
			raw = v.Bytes
		}
		var flags []string
		for _, f := range b.Flags {
			flags = append(flags, string(f))
		}
		lines = append(lines, fmt.Sprintf("%s %d %q %s", digest(raw), len(raw), normFlags(flags),
			b.InternalDate.UTC().Format(time.RFC3339)))
	}
	slices.Sort(lines)
	return lines
}
