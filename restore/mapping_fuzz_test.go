package restore

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mailkeep/mailkeep/archive"
)

// FuzzParseMapRule: a rule parses back from its String form.
func FuzzParseMapRule(f *testing.F) {
	for _, s := range []string{"Old=New", `a\=b=c`, `x\\=y`, "=", `\`, "INBOX.Sent=Gesendet"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseMapRule(s)
		if err != nil {
			return
		}
		if r.From == "" || r.To == "" {
			t.Fatalf("%q parsed as %+v", s, r)
		}
		if back, err := ParseMapRule(r.String()); err != nil || back != r {
			t.Fatalf("%q → %+v → %q → %+v, %v", s, r, r.String(), back, err)
		}
	})
}

// FuzzMapFolders: whatever two archive folders are called, the mapping
// does not panic, gives them distinct target names or an error, and a
// target name splits into levels that hold no delimiter.
func FuzzMapFolders(f *testing.F) {
	f.Add("Sent", "Dotted.Name", "/", ".", "INBOX.")
	f.Add("INBOX.Sent", "INBOX.a/b", ".", "/", "")
	f.Add("a//b", "a/b", "/", ".", "INBOX.")
	f.Fuzz(func(t *testing.T, a, b, srcDelim, dstDelim, prefix string) {
		if !utf8.ValidString(a+b+prefix) || len(srcDelim) > 1 || len(dstDelim) != 1 || a == b || a == "" || b == "" {
			return
		}
		m := &mapper{dst: Target{Delim: dstDelim, Prefix: prefix}, delim: rune(dstDelim[0]), rules: map[string]MapRule{}}
		out := m.mapFolders([]archive.ViewFolder{
			{FolderState: archive.FolderState{Name: a, Delim: srcDelim}},
			{FolderState: archive.FolderState{Name: b, Delim: srcDelim}},
		}, nil)
		if out[0].Err == nil && out[1].Err == nil && nameKey(out[0].Target) == nameKey(out[1].Target) {
			t.Fatalf("%q and %q both map to %q", a, b, out[0].Target)
		}
		for _, fm := range out {
			if fm.Err == nil && fm.Target == "" {
				t.Fatalf("%q maps to nothing", fm.Source)
			}
			if fm.Err == nil && !strings.HasPrefix(fm.Target, prefix) && !strings.HasPrefix(fm.Target, "INBOX") {
				t.Fatalf("%q maps to %q, outside the prefix %q", fm.Source, fm.Target, prefix)
			}
		}
	})
}
