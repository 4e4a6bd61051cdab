package archive

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var folderDirCases = []struct {
	name  string
	delim rune
	dir   string
}{
	{"INBOX", '/', "INBOX"},
	{"inbox", '/', "INBOX"},
	{"Inbox/Sub", '.', "Inbox%2FSub"}, // no split on '/': not INBOX
	{"inbox.Sub", '.', "INBOX/Sub"},
	{"Archive/2024", '/', "Archive/2024"},
	{"Archive.2024", '.', "Archive/2024"},
	{"Archive/2024", 0, "Archive%2F2024"},
	{"Entwürfe", '/', "Entw&APw-rfe"},
	{"R&D", '/', "R&-D"},
	{"Sub/INBOX", '/', "Sub/INBOX"},
	{"Sub/inbox", '/', "Sub/inbox"},
	{"cur", '/', "cur"},
	{"new/tmp", '/', "new/tmp"},
	{".mk", '/', "%2Emk"},
	{".", '/', "%2E"},
	{"..", '/', "%2E."},
	{"../../x", '/', "%2E./%2E./x"},
	{"a/../b", '/', "a/%2E./b"},
	{"a.b/c", '.', "a/b%2Fc"},
	{"a/b.c", '.', "a%2Fb/c"},
	{"/", '.', "%2F"},
	{"a//b", '/', "a/%/b"},
	{"/a", '/', "%/a"},
	{"a/", '/', "a/%"},
	{"", '/', "%"},
	{"", 0, "%"},
	{"%", '/', "%25"},
	{"100% done", '/', "100%25 done"},
	{"%2E", '/', "%252E"},
	{"~user", '/', "%7Euser"},
	{"a~/~b", '/', "a~/%7Eb"},
	{"a\x00b", '/', "a%00b"},
	{"line\r\nbreak", '/', "line%0D%0Abreak"},
	{"del\x7f", '/', "del%7F"},
	{"bad\xffutf8", '/', "bad%FFutf8"},
	{"\xc3", '/', "%C3"},
	{"ü\xc3", '/', "&APw-%C3"},
	{".ü", '/', "%2E&APw-"},
	{"日本語/台北", '/', "&ZeVnLIqe-/&U,BTFw-"},
	{"a b", '/', "a b"},
	{" ", '/', " "},
	{"*", '/', "*"},
	{"a:b", '/', "a:b"},
	{"a\\b", '\\', "a/b"},
	{"aüb", 'ü', "a/b"},
	{"x&AC4-y", '/', "x&-AC4-y"},
	{"InBoX", 'O', "InBoX"}, // "INBOX" would split on the delimiter
	{"InBoX", 'o', "InB/X"},
	{"inbox", 'o', "inb/x"},
	{"inbox", 'x', "inbo/%"},
}

func TestFolderDir(t *testing.T) {
	for _, c := range folderDirCases {
		if got := FolderDir(c.name, c.delim); got != c.dir {
			t.Errorf("FolderDir(%q, %q) = %q, want %q", c.name, c.delim, got, c.dir)
		}
	}
}

func TestFolderName(t *testing.T) {
	for _, c := range folderDirCases {
		want := c.name
		if inboxRule(c.delim) && strings.EqualFold(splitFolderName(c.name, c.delim)[0], "INBOX") {
			want = "INBOX" + c.name[len("INBOX"):]
		}
		got, ok := FolderName(c.dir, c.delim)
		if !ok || got != want {
			t.Errorf("FolderName(%q, %q) = %q, %v; want %q", c.dir, c.delim, got, ok, want)
		}
	}
}

func TestFolderNameNotMade(t *testing.T) {
	for _, c := range []struct {
		dir   string
		delim rune
	}{
		{"", '/'},
		{".", '/'},
		{"..", '/'},
		{"a/../b", '/'},
		{".mk", '/'},
		{"a//b", '/'},
		{"/a", '/'},
		{"&AC4-x", '/'},     // '.' spelled as a base64 run
		{"&AOQ-&APw-", '/'}, // non-canonical modified UTF-7
		{"%41", '/'},        // escape FolderDir does not write
		{"%2e", '/'},        // lowercase hex
		{"%2", '/'},         // short escape
		{"a%", '/'},         // '%' not followed by hex
		{"a%~0123", '/'},    // cut component
		{"a/b", 0},          // hierarchy without a delimiter
		{"a%2Eb", '.'},      // component holding the delimiter
		{"inbox", '/'},      // FolderDir writes INBOX
		{"Entwürfe", '/'},   // raw UTF-8
	} {
		if got, ok := FolderName(c.dir, c.delim); ok {
			t.Errorf("FolderName(%q, %q) = %q, true; want not ok", c.dir, c.delim, got)
		}
	}
}

// checkFolderDir checks the properties every result of FolderDir has.
func checkFolderDir(t *testing.T, name string, delim rune) string {
	t.Helper()
	dir := FolderDir(name, delim)
	if !filepath.IsLocal(dir) {
		t.Fatalf("FolderDir(%q, %q) = %q: not local", name, delim, dir)
	}
	parts := strings.Split(dir, "/")
	if want := len(splitFolderName(name, delim)); len(parts) != want {
		t.Fatalf("FolderDir(%q, %q) = %q: %d components, want %d", name, delim, dir, len(parts), want)
	}
	for _, p := range parts {
		checkDirComponent(t, name, dir, p)
	}
	if back, ok := FolderName(dir, delim); ok && FolderDir(back, delim) != dir {
		t.Fatalf("FolderName(%q, %q) = %q, which maps to %q", dir, delim, back, FolderDir(back, delim))
	}
	return dir
}

func checkDirComponent(t *testing.T, name, dir, p string) {
	t.Helper()
	if p == "" || p == "." || p == ".." || p[0] == '.' || p[0] == '~' || len(p) > dirComponentMax {
		t.Fatalf("FolderDir(%q) = %q: bad component %q", name, dir, p)
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] > 0x7e || p[i] == '/' {
			t.Fatalf("FolderDir(%q) = %q: byte %#x in component %q", name, dir, p[i], p)
		}
	}
	if _, err := decodeMUTF7(p); err != nil {
		t.Fatalf("FolderDir(%q) = %q: component %q is not modified UTF-7: %v", name, dir, p, err)
	}
}

// inverts reports whether FolderName must give name back: always, unless
// a component was cut for length.
func inverts(name string, delim rune) bool {
	for i, p := range splitFolderName(name, delim) {
		if p != "" && !(i == 0 && inboxRule(delim) && strings.EqualFold(p, "INBOX")) &&
			len(encodeMUTF7(escapeDirComponent(p))) > dirComponentMax {
			return false
		}
	}
	return true
}

// folderKey is the identity of a folder: its components, INBOX in one case.
func folderKey(name string, delim rune) []string {
	parts := splitFolderName(name, delim)
	if inboxRule(delim) && strings.EqualFold(parts[0], "INBOX") {
		parts[0] = "INBOX"
	}
	return parts
}

func TestFolderDirLong(t *testing.T) {
	long := map[string]string{
		"ascii":   strings.Repeat("x", 1000),
		"cjk":     strings.Repeat("日本語", 300),
		"emoji":   strings.Repeat("😀", 300),
		"mixed":   strings.Repeat("aü.&/%~", 150),
		"invalid": strings.Repeat("\xff", 300),
		"ctl":     strings.Repeat("\x01", 300),
		"dots":    strings.Repeat(".", 300),
	}
	seen := map[string]string{}
	for what, c := range long {
		for _, name := range []string{c, c + "1", c + "2", "x" + c, c[:len(c)-1]} {
			dir := checkFolderDir(t, name, 0)
			if _, ok := FolderName(dir, 0); ok {
				t.Errorf("%s: FolderName(%q) ok for a cut name", what, dir)
			}
			if prev, dup := seen[dir]; dup {
				t.Errorf("%s: %q and %q both map to %q", what, prev, name, dir)
			}
			seen[dir] = name
		}
	}
	// The longest name that is not cut, and the shortest that is.
	fits, cut := strings.Repeat("y", dirComponentMax), strings.Repeat("y", dirComponentMax+1)
	if got := FolderDir(fits, '/'); got != fits {
		t.Errorf("FolderDir(200 bytes) = %q", got)
	}
	want := strings.Repeat("y", dirComponentCut) + "%~9646bc459c4ca614b3d91152"
	if got := FolderDir(cut, '/'); got != want {
		t.Errorf("FolderDir(201 bytes) = %q, want %q", got, want)
	}
}

func TestFolderDirCutBoundary(t *testing.T) {
	// A cut never splits a base64 run or a %XX escape: the prefix
	// decodes, and is the spelling of a prefix of the name.
	for _, name := range []string{
		strings.Repeat("ü", 200),
		strings.Repeat("%", 200),
		"x" + strings.Repeat("😀", 100),
		strings.Repeat("a\x00", 150),
	} {
		dir := FolderDir(name, 0)
		prefix := dir[:strings.LastIndex(dir, dirCutMark)]
		v, err := decodeMUTF7(prefix)
		if err != nil {
			t.Fatalf("cut of %q: prefix %q: %v", name, prefix, err)
		}
		p, ok := unescapeDirComponent(v)
		if !ok || !strings.HasPrefix(name, p) || len(prefix) > dirComponentCut || len(prefix) < dirComponentCut-8 {
			t.Errorf("cut of %q: prefix %q (%q, %v)", name, prefix, p, ok)
		}
	}
}

// nastyFolderNames are server names from the security review list and
// their neighbours; with every delimiter they must map to distinct dirs
// unless they split to the same components.
var nastyFolderNames = []string{
	"", ".", "..", "...", "../../x", "../", "/..", ".mk", "a/.mk", "cur", "new", "tmp",
	"INBOX", "inbox", "InBoX", "INBOX/x", "inbox/x", "INBOX.x", "x/INBOX", "x/inbox",
	"a/b", "a.b", "a//b", "/a", "a/", "/", "//", "a\x00b", "a\nb", "a\x01", "\x7f",
	"%", "%25", "%2F", "%2E", "a%2Fb", "a%~b", "~", "~x", "x~", "&", "&-", "&AC4-",
	"Entwürfe", "Entw&APw-rfe", "\xff", "%FF", "\uf7ff", "\uf700", " ", "  ",
	strings.Repeat("z", 201), strings.Repeat("z", 200) + "y", strings.Repeat("ü", 80),
}

func TestFolderDirNasty(t *testing.T) {
	type entry struct {
		name  string
		delim rune
	}
	seen := map[string]entry{}
	for _, delim := range []rune{0, '/', '.', '\\', '&', '%'} {
		for _, name := range nastyFolderNames {
			dir := checkFolderDir(t, name, delim)
			if back, ok := FolderName(dir, delim); ok != inverts(name, delim) ||
				ok && !slices.Equal(folderKey(back, delim), folderKey(name, delim)) {
				t.Errorf("FolderName(FolderDir(%q, %q) = %q) = %q, %v", name, delim, dir, back, ok)
			}
			if prev, dup := seen[dir]; dup && !slices.Equal(folderKey(prev.name, prev.delim), folderKey(name, delim)) {
				t.Errorf("(%q, %q) and (%q, %q) both map to %q", prev.name, prev.delim, name, delim, dir)
			}
			seen[dir] = entry{name, delim}
		}
	}
}

func FuzzFolderDir(f *testing.F) {
	for _, c := range folderDirCases {
		f.Add(c.name, c.delim, c.dir, c.delim)
	}
	for i, n := range nastyFolderNames {
		other := nastyFolderNames[(i+1)%len(nastyFolderNames)]
		f.Add(n, '/', other, '.')
	}
	f.Fuzz(func(t *testing.T, name1 string, delim1 rune, name2 string, delim2 rune) {
		dir1 := checkFolderDir(t, name1, delim1)
		checkFolderDir(t, name2, delim2)
		back, ok := FolderName(dir1, delim1)
		if ok != inverts(name1, delim1) || ok && !slices.Equal(folderKey(back, delim1), folderKey(name1, delim1)) {
			t.Fatalf("FolderName(FolderDir(%q, %q) = %q) = %q, %v", name1, delim1, dir1, back, ok)
		}
		// Injectivity, against the second input and against names made
		// from the first that look like its escapes.
		spelled, _ := decodeMUTF7(dir1)
		for _, o := range []struct {
			name  string
			delim rune
		}{
			{name2, delim2}, {dir1, delim1}, {dir1, '/'}, {spelled, '/'}, {spelled, 0},
			{strings.ToUpper(name1), delim1}, {name1 + "%", delim1}, {"%" + name1, delim1},
		} {
			if FolderDir(o.name, o.delim) == dir1 && !slices.Equal(folderKey(name1, delim1), folderKey(o.name, o.delim)) {
				t.Fatalf("(%q, %q) and (%q, %q) both map to %q", name1, delim1, o.name, o.delim, dir1)
			}
		}
		// name2 taken as a directory: FolderName either refuses it or
		// returns the one name that maps back to it.
		if n, ok := FolderName(name2, delim2); ok && FolderDir(n, delim2) != name2 {
			t.Fatalf("FolderName(%q, %q) = %q, which maps to %q", name2, delim2, n, FolderDir(n, delim2))
		}
	})
}

func TestMessageFileName(t *testing.T) {
	for _, c := range []struct {
		m    MessageFile
		name string
	}{
		{MessageFile{IMAPKey(1700000000, 42), 1234, 1260, "FS"}, "m1700000000.42,S=1234,W=1260:2,FS"},
		{MessageFile{IMAPKey(0, 0), 0, 0, ""}, "m0.0,S=0,W=0:2,"},
		{MessageFile{IMAPKey(4294967295, 4294967295), 1 << 40, 1<<40 + 1, "DFPRSTaz"},
			"m4294967295.4294967295,S=1099511627776,W=1099511627777:2,DFPRSTaz"},
		{MessageFile{POP3Key("000000014f7c6a10"), 9, 9, "S"}, "p30303030303030313466376336613130,S=9,W=9:2,S"},
		{MessageFile{POP3Key("a,b:c/d"), 1, 2, "ab"}, "p612c623a632f64,S=1,W=2:2,ab"},
	} {
		if got := c.m.Name(); got != c.name {
			t.Errorf("Name() = %q, want %q", got, c.name)
		}
		m, err := ParseMessageFile(c.name)
		if err != nil || m != c.m {
			t.Errorf("ParseMessageFile(%q) = %+v, %v; want %+v", c.name, m, err, c.m)
		}
	}
}

func TestParseMessageFileErrors(t *testing.T) {
	for _, name := range []string{
		"",
		"m1.2,S=3,W=4",                      // no :2,
		"m1.2,S=3,W=4:2",                    // no :2,
		"m1.2,S=3,W=4:1,S",                  // experimental info
		"m1.2,W=4,S=3:2,",                   // fields swapped
		"m1.2,S=3:2,",                       // no W=
		"m1.2,W=4:2,",                       // no S=
		"m1.2:2,",                           // no sizes
		"m1.2,S=3,W=4,X=5:2,",               // extra field
		"m1.2,S=,W=4:2,",                    // empty size
		"m1.2,S=03,W=4:2,",                  // leading zero
		"m1.2,S=+3,W=4:2,",                  // sign
		"m1.2,S=-3,W=4:2,",                  // negative
		"m1.2,S=3,W=9223372036854775808:2,", // overflow
		"m1.2,S=3,W=4:2,SF",                 // unsorted
		"m1.2,S=3,W=4:2,SS",                 // repeated
		"m1.2,S=3,W=4:2,aS",                 // keyword before flag
		"m1.2,S=3,W=4:2,X",                  // unknown flag
		"m1.2,S=3,W=4:2,Z",                  // unknown flag
		"m1.2,S=3,W=4:2,:2,",                // flags holding :2,
		"m1.2,S=3,W=4:2,S ",                 // space
		"1.2,S=3,W=4:2,",                    // no key prefix
		"m1,S=3,W=4:2,",                     // no uid
		"m1.,S=3,W=4:2,",                    // empty uid
		"m.1,S=3,W=4:2,",                    // empty uidvalidity
		"m01.2,S=3,W=4:2,",                  // leading zero
		"m1.2.3,S=3,W=4:2,",                 // extra dot
		"m4294967296.1,S=3,W=4:2,",          // overflow
		"m-1.2,S=3,W=4:2,",                  // sign
		"p,S=3,W=4:2,",                      // empty UIDL
		"p4,S=3,W=4:2,",                     // odd hex
		"p4A,S=3,W=4:2,",                    // uppercase hex
		"p4g,S=3,W=4:2,",                    // not hex
		"q41,S=3,W=4:2,",                    // unknown key form
		"m1.2,S=3,W=4:2,S/x",                // slash
		"1700000000.M1P2.host,S=3,W=4:2,S",  // a Dovecot name
	} {
		if m, err := ParseMessageFile(name); err == nil {
			t.Errorf("ParseMessageFile(%q) = %+v, want an error", name, m)
		}
	}
}

func FuzzParseMessageFile(f *testing.F) {
	f.Add("m1700000000.42,S=1234,W=1260:2,FS")
	f.Add("p4142,S=1,W=2:2,DFPRSTaz")
	f.Add("m1.2,S=3,W=4:2,SS")
	f.Add("1700000000.M1P2.host,S=3,W=4:2,S")
	f.Fuzz(func(t *testing.T, name string) {
		m, err := ParseMessageFile(name)
		if err != nil {
			return
		}
		if got := m.Name(); got != name {
			t.Fatalf("ParseMessageFile(%q).Name() = %q", name, got)
		}
		if strings.ContainsAny(m.Key, ",:/") || m.Size < 0 || m.VSize < 0 {
			t.Fatalf("ParseMessageFile(%q) = %+v", name, m)
		}
	})
}

func TestIMAPKey(t *testing.T) {
	for _, c := range []struct{ v, u uint32 }{{0, 0}, {1, 2}, {1700000000, 42}, {4294967295, 4294967295}} {
		v, u, ok := ParseIMAPKey(IMAPKey(c.v, c.u))
		if !ok || v != c.v || u != c.u {
			t.Errorf("ParseIMAPKey(IMAPKey(%d, %d)) = %d, %d, %v", c.v, c.u, v, u, ok)
		}
	}
	for _, key := range []string{"", "m", "m1", "m1.", "m.1", "m1.2.3", "M1.2", "m+1.2", "m1.02", "m 1.2", "p41"} {
		if _, _, ok := ParseIMAPKey(key); ok {
			t.Errorf("ParseIMAPKey(%q) ok", key)
		}
	}
}

func TestPOP3Key(t *testing.T) {
	for _, uidl := range []string{"1", "000000014f7c6a10", "a,b:c/d", "\x00\xff", strings.Repeat("~", 70)} {
		got, ok := ParsePOP3Key(POP3Key(uidl))
		if !ok || got != uidl {
			t.Errorf("ParsePOP3Key(POP3Key(%q)) = %q, %v", uidl, got, ok)
		}
	}
	if got := POP3Key("AB"); got != "p4142" {
		t.Errorf("POP3Key(AB) = %q", got)
	}
	for _, key := range []string{"", "p", "p4", "p4A", "p4g", "P41", "m1.2", "p41 "} {
		if _, ok := ParsePOP3Key(key); ok {
			t.Errorf("ParsePOP3Key(%q) ok", key)
		}
	}
}

func TestIsTempName(t *testing.T) {
	for name, want := range map[string]bool{
		"m1.2.0123abcd.tmp":   true,
		"p4142.f.tmp":         true,
		"m1.2.tmp":            false, // "2" taken as the random part: key "m1" is bad
		"m1.2..tmp":           false,
		"m1.2.0123ABCD.tmp":   false,
		"m1.2.xyz.tmp":        false,
		"m1.2.0123abcd":       false,
		"m1.2.0123abcd.tmp.x": false,
		"0123abcd.tmp":        false,
		".tmp":                false,
		"m1.2,S=3,W=4:2,":     false,
	} {
		if got := IsTempName(name); got != want {
			t.Errorf("IsTempName(%q) = %v, want %v", name, got, want)
		}
	}
}
