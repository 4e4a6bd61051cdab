package restore

import (
	"errors"
	"strings"
	"testing"

	"github.com/mailkeep/mailkeep/archive"
)

// src is an archive folder: name, delimiter, special use ("" for none).
type src struct{ name, delim, use string }

// dst is a target folder and its attributes.
type dst struct{ name, use string }

// want is where a folder should go: a target name, or "error: " and a
// part of the error; use is the special use it is created with.
type want struct{ target, use string }

var (
	dovecot = Target{Delim: "/", CreateSpecialUse: false}
	courier = Target{Delim: ".", Prefix: "INBOX."}
	cyrus   = Target{Delim: "/", CreateSpecialUse: true}
)

func TestRestoreMapping(t *testing.T) {
	tests := []struct {
		name      string
		srcPrefix string
		folders   []src
		target    Target
		existing  []dst
		rules     []string
		into      string
		want      map[string]want
	}{
		{name: "same layout, names kept",
			folders: []src{{"INBOX", "/", ""}, {"Sent", "/", `\Sent`}, {"Archive", "/", ""}, {"Archive/2024", "/", ""},
				{"Entwürfe", "/", ""}, {"inbox/sub", "/", ""}},
			target: dovecot, existing: []dst{{"INBOX", ""}, {"Sent", `\Sent`}},
			want: map[string]want{"INBOX": {"INBOX", ""}, "Sent": {"Sent", ""}, "Archive": {"Archive", ""},
				"Archive/2024": {"Archive/2024", ""}, "Entwürfe": {"Entwürfe", ""}, "inbox/sub": {"INBOX/sub", ""}}},
		{name: "into a prefixed target",
			folders: []src{{"INBOX", "/", ""}, {"Sent", "/", `\Sent`}, {"Archive/2024", "/", ""}, {"INBOX/sub", "/", ""},
				{"Отчёты", "/", ""}},
			target: courier, existing: []dst{{"INBOX", ""}},
			want: map[string]want{"INBOX": {"INBOX", ""}, "Sent": {"INBOX.Sent", ""}, "Archive/2024": {"INBOX.Archive.2024", ""},
				"INBOX/sub": {"INBOX.sub", ""}, "Отчёты": {"INBOX.Отчёты", ""}}},
		{name: "from a prefixed source, its prefix stripped", srcPrefix: "INBOX.",
			folders: []src{{"INBOX", ".", ""}, {"INBOX.Sent", ".", ""}, {"INBOX.Archive.2024", ".", ""}},
			target:  dovecot,
			want: map[string]want{"INBOX": {"INBOX", ""}, "INBOX.Sent": {"Sent", ""},
				"INBOX.Archive.2024": {"Archive/2024", ""}}},
		{name: "prefixed to prefixed", srcPrefix: "INBOX.",
			folders: []src{{"INBOX", ".", ""}, {"INBOX.Sent", ".", ""}, {"INBOX.a.b", ".", ""}},
			target:  courier, existing: []dst{{"INBOX", ""}, {"INBOX.Sent", ""}},
			want: map[string]want{"INBOX": {"INBOX", ""}, "INBOX.Sent": {"INBOX.Sent", ""}, "INBOX.a.b": {"INBOX.a.b", ""}}},
		{name: "special use by attribute on both sides, folders below follow",
			folders: []src{{"Sent", "/", `\Sent`}, {"Sent/2019", "/", ""}, {"Papierkorb", "/", `\Trash`}},
			target:  dovecot, existing: []dst{{"Sent", ""}, {"Sent Items", `\Sent`}, {"Trash", `\Trash`}},
			want: map[string]want{"Sent": {"Sent Items", ""}, "Sent/2019": {"Sent Items/2019", ""},
				"Papierkorb": {"Trash", ""}}},
		{name: "special use by name where the source has no attributes",
			folders: []src{{"Gesendete Objekte", "/", ""}, {"Spam", "/", ""}, {"Entwürfe", "/", ""}, {"Projects", "/", ""}},
			target:  dovecot, existing: []dst{{"Sent", `\Sent`}, {"Junk", `\Junk`}, {"Drafts", `\Drafts`}},
			want: map[string]want{"Gesendete Objekte": {"Sent", ""}, "Spam": {"Junk", ""}, "Entwürfe": {"Drafts", ""},
				"Projects": {"Projects", ""}}},
		{name: "names decide only roles no source folder carries",
			folders: []src{{"Sent", "/", `\Sent`}, {"Sent Items", "/", ""}, {"Spam", "/", ""}},
			target:  dovecot, existing: []dst{{"Sent", `\Sent`}, {"Junk", `\Junk`}, {"Sent Items", ""}},
			want: map[string]want{"Sent": {"Sent", ""}, "Sent Items": {"Sent Items", ""}, "Spam": {"Junk", ""}}},
		{name: "the target's folder of a role by name where it has no attributes",
			folders: []src{{"Sent", "/", `\Sent`}, {"Deleted Items", "/", ""}},
			target:  courier, existing: []dst{{"INBOX", ""}, {"INBOX.Sent Items", ""}, {"INBOX.Trash", ""}},
			want: map[string]want{"Sent": {"INBOX.Sent Items", ""}, "Deleted Items": {"INBOX.Trash", ""}}},
		{name: "of several target folders of a role, the one of the same name",
			folders: []src{{"Sent Items", "/", ""}},
			target:  dovecot, existing: []dst{{"Sent", ""}, {"Sent Items", ""}},
			want: map[string]want{"Sent Items": {"Sent Items", ""}}},
		{name: "of several source folders named for a role, the earliest name",
			folders: []src{{"Deleted Items", "/", ""}, {"Trash", "/", ""}},
			target:  dovecot, existing: []dst{{"Papierkorb", `\Trash`}},
			want: map[string]want{"Trash": {"Papierkorb", ""}, "Deleted Items": {"Deleted Items", ""}}},
		{name: "no folder of the role on the target: created with it",
			folders: []src{{"Sent Items", "/", `\Sent`}, {"Sent Items/2019", "/", ""}, {"Archiv", "/", ""}},
			target:  cyrus,
			want: map[string]want{"Sent Items": {"Sent Items", `\Sent`}, "Sent Items/2019": {"Sent Items/2019", ""},
				"Archiv": {"Archiv", `\Archive`}}},
		{name: "no folder of the role, no CREATE-SPECIAL-USE: created plain",
			folders: []src{{"Sent Items", "/", `\Sent`}},
			target:  dovecot,
			want:    map[string]want{"Sent Items": {"Sent Items", ""}}},
		{name: "Gmail",
			folders: []src{{"INBOX", "/", ""}, {"[Gmail]/Sent Mail", "/", `\Sent`}, {"[Gmail]/All Mail", "/", `\All`},
				{"[Gmail]/Spam", "/", `\Junk`}, {"[Gmail]/Starred", "/", `\Flagged`}, {"Receipts", "/", ""}},
			target: courier, existing: []dst{{"INBOX", ""}, {"INBOX.Sent", ""}, {"INBOX.Junk", ""}},
			want: map[string]want{"INBOX": {"INBOX", ""}, "[Gmail]/Sent Mail": {"INBOX.Sent", ""},
				"[Gmail]/All Mail": {"INBOX.[Gmail].All Mail", ""}, "[Gmail]/Spam": {"INBOX.Junk", ""},
				"[Gmail]/Starred": {"INBOX.[Gmail].Starred", ""}, "Receipts": {"INBOX.Receipts", ""}}},
		{name: "--into: below it, roles name the folder but do not set it", into: "Restored/2026",
			folders:  []src{{"INBOX", "/", ""}, {"Sent", "/", `\Sent`}, {"Drafts", "/", `\Drafts`}},
			target:   Target{Delim: ".", Prefix: "INBOX.", CreateSpecialUse: true},
			existing: []dst{{"INBOX", ""}, {"INBOX.Sent Items", `\Sent`}},
			want: map[string]want{"INBOX": {"INBOX.Restored.2026.INBOX", ""}, "Sent": {"INBOX.Restored.2026.Sent Items", ""},
				"Drafts": {"INBOX.Restored.2026.Drafts", ""}}},
		{name: "--map: the folder and the folders below it; the deepest rule wins",
			rules:   []string{"Archive=Old/Archive", "Archive/2024=Y2024"},
			folders: []src{{"Archive", "/", ""}, {"Archive/2023", "/", ""}, {"Archive/2024", "/", ""}, {"Archive/2024/Q1", "/", ""}},
			target:  courier,
			want: map[string]want{"Archive": {"INBOX.Old.Archive", ""}, "Archive/2023": {"INBOX.Old.Archive.2023", ""},
				"Archive/2024": {"INBOX.Y2024", ""}, "Archive/2024/Q1": {"INBOX.Y2024.Q1", ""}}},
		{name: "--map before the role; a target name written with the prefix", srcPrefix: "INBOX.",
			rules:   []string{"INBOX.Sent=INBOX.Gesendet", "INBOX.Trash=Alt.Papierkorb"},
			folders: []src{{"INBOX.Sent", ".", `\Sent`}, {"INBOX.Trash", ".", `\Trash`}},
			target:  courier, existing: []dst{{"INBOX.Sent Items", `\Sent`}},
			want: map[string]want{"INBOX.Sent": {"INBOX.Gesendet", ""}, "INBOX.Trash": {"INBOX.Alt.Papierkorb", ""}}},
		{name: "--map to a name the delimiter-less form",
			rules:   []string{"Dotted.Name=Dotted_Name"},
			folders: []src{{"Dotted.Name", "/", ""}},
			target:  courier,
			want:    map[string]want{"Dotted.Name": {"INBOX.Dotted_Name", ""}}},
		{name: "names the target cannot hold",
			folders: []src{{"Dotted.Name", "/", ""}, {"a//b", "/", ""}, {"Trailing/", "/", ""}, {"Dotted_Name", "/", ""},
				{"Fine", "/", ""}},
			target: courier,
			want: map[string]want{
				"Dotted.Name": {`error: its level "Dotted.Name" holds ".", the target's hierarchy delimiter; restore it with --map 'Dotted.Name=Dotted_Name (2)'`, ""},
				"a//b":        {`error: empty level, which the target cannot hold; restore it with --map 'a//b=a/b'`, ""},
				"Trailing/":   {`error: --map 'Trailing/=Trailing'`, ""},
				"Dotted_Name": {"INBOX.Dotted_Name", ""}, "Fine": {"INBOX.Fine", ""}}},
		{name: "a slash inside a name from a '.' server, onto a '/' target",
			folders: []src{{"INBOX", ".", ""}, {"INBOX.a/b", ".", ""}}, srcPrefix: "INBOX.",
			target: dovecot,
			want: map[string]want{"INBOX": {"INBOX", ""},
				"INBOX.a/b": {`error: its level "a/b" holds "/", the target's hierarchy delimiter; restore it with --map 'INBOX.a/b=a_b'`, ""}}},
		{name: "collisions: --map, then roles, then names",
			rules: []string{"Old=Projects"},
			folders: []src{{"INBOX/sub", "/", ""}, {"Old", "/", ""}, {"Projects", "/", ""}, {"Sent", "/", `\Sent`},
				{"Sent Items", "/", ""}, {"sub", "/", ""}},
			target: courier, existing: []dst{{"INBOX.Sent Items", `\Sent`}, {"INBOX.Sent Items (2)", ""}},
			want: map[string]want{
				"Old": {"INBOX.Projects", ""}, "Sent": {"INBOX.Sent Items", ""}, "INBOX/sub": {"INBOX.sub", ""},
				"Projects":   {`error: it maps to "INBOX.Projects", as folder "Old" does; restore it with --map 'Projects=Projects (2)'`, ""},
				"Sent Items": {`error: it maps to "INBOX.Sent Items", as folder "Sent" does; restore it with --map 'Sent Items=Sent Items (3)'`, ""},
				"sub":        {`error: it maps to "INBOX.sub", as folder "INBOX/sub" does; restore it with --map 'sub=sub (2)'`, ""}}},
		{name: "flat target: names kept whole", into: "R-",
			folders: []src{{"INBOX", "/", ""}, {"Archive/2024", "/", ""}, {"INBOX", "", ""}},
			target:  Target{},
			want:    map[string]want{"Archive/2024": {"R-Archive/2024", ""}}},
		{name: "INBOX in another case, with a role folder below it", srcPrefix: "INBOX.",
			folders: []src{{"Inbox", ".", ""}, {"Inbox.Sent", ".", `\Sent`}, {"Inbox.Sent.2019", ".", ""}},
			target:  dovecot, existing: []dst{{"Sent Items", `\Sent`}},
			want: map[string]want{"Inbox": {"INBOX", ""}, "Inbox.Sent": {"Sent Items", ""},
				"Inbox.Sent.2019": {"Sent Items/2019", ""}}},
		{name: "a POP3 archive",
			folders: []src{{"INBOX", "", ""}},
			target:  courier,
			want:    map[string]want{"INBOX": {"INBOX", ""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := mapForTest(t, tc.srcPrefix, tc.target, tc.existing, tc.rules, tc.into, tc.folders)
			for _, fm := range got {
				w, ok := tc.want[fm.Source]
				if !ok {
					continue
				}
				if e, isErr := strings.CutPrefix(w.target, "error: "); isErr {
					if fm.Err == nil || !errors.Is(fm.Err, ErrFolderName) || !strings.Contains(fm.Err.Error(), e) {
						t.Errorf("%q → %q, %v; want an error with %s", fm.Source, fm.Target, fm.Err, e)
					}
					continue
				}
				if fm.Target != w.target || fm.Err != nil || fm.CreateUse != w.use {
					t.Errorf("%q → %q (%s, create with %q), %v; want %q, created with %q", fm.Source, fm.Target, fm.Rule,
						fm.CreateUse, fm.Err, w.target, w.use)
				}
			}
		})
	}
}

func mapForTest(t *testing.T, srcPrefix string, tgt Target, existing []dst, rules []string, into string, folders []src) []FolderMapping {
	t.Helper()
	m := &mapper{srcPrefix: srcPrefix, dst: tgt, delim: firstRune(tgt.Delim), rules: map[string]MapRule{}, rawInto: into}
	m.into = splitInto(into, m.delim)
	for _, d := range existing {
		m.existing = append(m.existing, targetFolder{d.name, archive.SplitFlags(d.use)})
	}
	for _, s := range rules {
		r, err := ParseMapRule(s)
		if err != nil {
			t.Fatal(err)
		}
		m.rules[normInbox(r.From)] = r
	}
	var fs []archive.ViewFolder
	for _, f := range folders {
		fs = append(fs, archive.ViewFolder{FolderState: archive.FolderState{Name: f.name, Delim: f.delim,
			SpecialUse: f.use}})
	}
	return m.mapFolders(fs, nil)
}

// TestRestoreMappingReasons: the mapping says why, and which role.
func TestRestoreMappingReasons(t *testing.T) {
	got := mapForTest(t, "", dovecot, []dst{{"Sent", `\Sent`}}, []string{"Old=New"}, "",
		[]src{{"Old", "/", ""}, {"Old/sub", "/", ""}, {"Sent", "/", `\Sent`}, {"Spam", "/", ""}, {"Other", "/", ""}})
	want := []FolderMapping{
		{Source: "Old", Target: "New", Rule: RuleMap},
		{Source: "Old/sub", Target: "New/sub", Rule: RuleMap, Under: "Old"},
		{Source: "Sent", Target: "Sent", Rule: RuleSpecialUse, Role: `\Sent`},
		{Source: "Spam", Target: "Spam", Rule: RuleSpecialUse, Role: `\Junk`, RoleByName: true},
		{Source: "Other", Target: "Other", Rule: RuleName},
	}
	for i, w := range want {
		w.Selected = true
		if got[i] != w {
			t.Errorf("got %+v\nwant %+v", got[i], w)
		}
	}
}

func TestRestoreParseMapRule(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want MapRule
		err  bool
	}{
		{"Old name=New name", MapRule{"Old name", "New name"}, false},
		{"INBOX.Sent=Sent", MapRule{"INBOX.Sent", "Sent"}, false},
		{`a\=b=c=d`, MapRule{"a=b", "c=d"}, false},
		{`back\\slash=x`, MapRule{`back\slash`, "x"}, false},
		{"noequals", MapRule{}, true},
		{"=x", MapRule{}, true},
		{"x=", MapRule{}, true},
		{`x=y\`, MapRule{}, true},
	} {
		got, err := ParseMapRule(tc.in)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("ParseMapRule(%q) = %+v, %v", tc.in, got, err)
		}
		if err == nil {
			if back, _ := ParseMapRule(got.String()); back != got {
				t.Errorf("%q: String() %q parses as %+v", tc.in, got.String(), back)
			}
		}
	}
}

func TestRestoreInferPrefix(t *testing.T) {
	for _, tc := range []struct {
		names  []string
		delims string
		want   string
	}{
		{[]string{"INBOX", "INBOX.Sent", "INBOX.a.b"}, "...", "INBOX."},
		{[]string{"INBOX", "INBOX.Sent", "Other"}, "...", ""},
		{[]string{"INBOX", "Sent"}, "//", ""},
		{[]string{"INBOX"}, "/", ""},
		{[]string{"INBOX"}, "\x00", ""},
		{[]string{"inbox.x", "INBOX"}, "..", "INBOX."},
		{[]string{"INBOX/x", "INBOX.y"}, "/.", ""},
	} {
		if got := inferPrefix(tc.names, []rune(tc.delims)); got != tc.want {
			t.Errorf("inferPrefix(%q) = %q, want %q", tc.names, got, tc.want)
		}
	}
}
