package archive

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestKeywordsLetters(t *testing.T) {
	var k Keywords
	for _, c := range []struct {
		flags   []string
		letters string
		changed bool
	}{
		{nil, "", false},
		{[]string{`\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`}, "DFRST", false},
		{[]string{`\seen`, `\SEEN`, `\Recent`, `\Unknown`, `\*`}, "S", false},
		{[]string{"$Forwarded", `\Seen`}, "Sa", true},
		{[]string{"$forwarded"}, "a", false},
		{[]string{"Junk", "$Forwarded", "NonJunk"}, "abc", true},
		{[]string{"junk", "NONJUNK", `\Draft`}, "Dbc", false},
		{[]string{"bad keyword", "bad\"quote", "", `bad\`, "bad]", "ok"}, "d", true},
	} {
		letters, changed := k.Letters(c.flags)
		if letters != c.letters || changed != c.changed {
			t.Errorf("Letters(%q) = %q, %v; want %q, %v", c.flags, letters, changed, c.letters, c.changed)
		}
	}
	if got, want := string(k.Marshal()), "0 $Forwarded\n1 Junk\n2 NonJunk\n3 ok\n"; got != want {
		t.Errorf("Marshal() = %q, want %q", got, want)
	}
}

func TestKeywordsFull(t *testing.T) {
	var k Keywords
	var flags []string
	for i := range maxKeywordLetters + 2 {
		flags = append(flags, fmt.Sprintf("kw%02d", i))
	}
	letters, changed := k.Letters(flags)
	if letters != "abcdefghijklmnopqrstuvwxyz" || !changed {
		t.Fatalf("Letters(28 keywords) = %q, %v", letters, changed)
	}
	if letters, changed := k.Letters([]string{"kw27", `\Seen`}); letters != "S" || changed {
		t.Errorf("Letters(keyword 28) = %q, %v; want no letter", letters, changed)
	}
	if letters, changed := k.Letters([]string{"KW25"}); letters != "z" || changed {
		t.Errorf("Letters(KW25) = %q, %v", letters, changed)
	}
}

func TestKeywordsFillGaps(t *testing.T) {
	k, err := ParseKeywordsFile([]byte("1 b\n3 d\n"))
	if err != nil {
		t.Fatal(err)
	}
	if letters, changed := k.Letters([]string{"x", "y", "z", "d"}); letters != "acde" || !changed {
		t.Errorf("Letters = %q, %v; want %q, true", letters, changed, "acde")
	}
	if got, want := string(k.Marshal()), "0 x\n1 b\n2 y\n3 d\n4 z\n"; got != want {
		t.Errorf("Marshal() = %q, want %q", got, want)
	}
}

func TestKeywordsFlags(t *testing.T) {
	k, err := ParseKeywordsFile([]byte("0 $Forwarded\n1 Junk\n3 $label1\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		letters string
		flags   []string
	}{
		{"", nil},
		{"DFRST", []string{`\Answered`, `\Deleted`, `\Draft`, `\Flagged`, `\Seen`}},
		{"Sabd", []string{`\Seen`, "$Forwarded", "$label1", "Junk"}},
		{"P", []string{"$Forwarded"}},
		{"Pa", []string{"$Forwarded"}},
		{"SS", []string{`\Seen`}},
	} {
		flags, err := k.Flags(c.letters)
		if err != nil || !slices.Equal(flags, c.flags) {
			t.Errorf("Flags(%q) = %q, %v; want %q", c.letters, flags, err, c.flags)
		}
	}
	for _, letters := range []string{"c", "e", "z", "X", "A", "1", "S:"} {
		if flags, err := k.Flags(letters); err == nil {
			t.Errorf("Flags(%q) = %q, want an error", letters, flags)
		}
	}
}

func TestKeywordsRoundTrip(t *testing.T) {
	var k Keywords
	flags := []string{"NonJunk", `\Seen`, "$Forwarded", `\Flagged`, `\Recent`, "nonjunk"}
	letters, _ := k.Letters(flags)
	got, err := k.Flags(letters)
	want := []string{`\Flagged`, `\Seen`, "$Forwarded", "NonJunk"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("Flags(Letters(%q)) = %q, %v; want %q", flags, got, err, want)
	}
}

func TestParseKeywordsFile(t *testing.T) {
	for _, c := range []struct{ data, marshal string }{
		{"", ""},
		{"0 $Forwarded\n1 Junk\n", "0 $Forwarded\n1 Junk\n"},
		{"0 $Forwarded\n1 Junk", "0 $Forwarded\n1 Junk\n"},
		{"25 z\n2 c\n", "2 c\n25 z\n"},
		{"0 a:b$[x\n", "0 a:b$[x\n"},
	} {
		k, err := ParseKeywordsFile([]byte(c.data))
		if err != nil {
			t.Errorf("ParseKeywordsFile(%q): %v", c.data, err)
			continue
		}
		if got := string(k.Marshal()); got != c.marshal {
			t.Errorf("ParseKeywordsFile(%q).Marshal() = %q, want %q", c.data, got, c.marshal)
		}
	}
	if k, err := ParseKeywordsFile(nil); err != nil || len(k.Marshal()) != 0 {
		t.Errorf("ParseKeywordsFile(nil) = %v, %v", k, err)
	}
}

func TestParseKeywordsFileErrors(t *testing.T) {
	for _, data := range []string{
		"\n",
		"0 a\n\n",
		"0 a\n\n1 b\n",
		"junk\n",
		"0\n",
		"0 \n",
		"0 a b\n",
		"0  a\n",
		" 0 a\n",
		"26 a\n",
		"-1 a\n",
		"+1 a\n",
		"01 a\n",
		"x a\n",
		"0 a\n0 b\n",
		"0 a\n1 A\n",
		"0 \\Seen\n",
		"0 a\r\n",
		"0 a\x00\n",
		"0 caf\xc3\xa9\n",
		"0 (a)\n",
		"99999999999999999999 a\n",
	} {
		if k, err := ParseKeywordsFile([]byte(data)); err == nil {
			t.Errorf("ParseKeywordsFile(%q) = %q, want an error", data, k.Marshal())
		}
	}
}

func FuzzParseKeywordsFile(f *testing.F) {
	f.Add([]byte("0 $Forwarded\n1 Junk\n"))
	f.Add([]byte("25 z\n2 c"))
	f.Add([]byte("0 a\n1 A\n"))
	f.Add([]byte("0 a \\Seen S $Forwarded x"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseKeywordsFile(data)
		if err != nil {
			return
		}
		out := k.Marshal()
		k2, err := ParseKeywordsFile(out)
		if err != nil {
			t.Fatalf("ParseKeywordsFile(%q).Marshal() = %q: %v", data, out, err)
		}
		if again := k2.Marshal(); !bytes.Equal(again, out) {
			t.Fatalf("Marshal not stable: %q then %q", out, again)
		}
		checkLettersFlags(t, k2, strings.Fields(string(data)))
	})
}

// checkLettersFlags checks that Flags inverts Letters on k.
func checkLettersFlags(t *testing.T, k *Keywords, flags []string) {
	letters, _ := k.Letters(flags)
	if !validFlagLetters(letters) {
		t.Fatalf("Letters(%q) = %q: not sorted Maildir letters", flags, letters)
	}
	back, err := k.Flags(letters)
	if err != nil {
		t.Fatalf("Flags(Letters(%q) = %q): %v", flags, letters, err)
	}
	again, changed := k.Letters(back)
	if again != letters || changed {
		t.Fatalf("Letters(Flags(%q) = %q) = %q, %v", letters, back, again, changed)
	}
	if _, err := ParseKeywordsFile(k.Marshal()); err != nil {
		t.Fatalf("Marshal() after Letters(%q) = %q: %v", flags, k.Marshal(), err)
	}
}

// TestKeywordsBeforeNames: a new keyword reaches the folder's keyword file
// once, when a batch commits or a file is renamed to letters that use it,
// and before any file in cur/ carries its letter.
func TestKeywordsBeforeNames(t *testing.T) {
	a, err := OpenWriter(context.Background(), t.TempDir(), "acct", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	f, err := a.Folder("INBOX", '/')
	if err != nil {
		t.Fatal(err)
	}
	kwFile := func() string {
		data, _ := os.ReadFile(filepath.Join(f.Dir, keywordsFile))
		return string(data)
	}
	sp, err := NewSpool("")
	if err != nil {
		t.Fatal(err)
	}
	var b Batch
	for i, kw := range []string{"$Label1", "$Label2", "$Label1"} {
		st, err := sp.Write(f, strings.NewReader("Subject: x\r\n\r\nbody\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Add(st, IMAPKey(1, uint32(i+1)), f.Letters([]string{kw}), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if got := kwFile(); got != "" {
		t.Fatalf("keyword file written before the batch commits: %q", got)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := kwFile(); !strings.Contains(got, "$Label1") || !strings.Contains(got, "$Label2") {
		t.Fatalf("keyword file after commit = %q, want both keywords", got)
	}
	files, _, err := f.Scan()
	if err != nil {
		t.Fatal(err)
	}
	letters := f.Letters([]string{"$Label3"})
	if strings.Contains(kwFile(), "$Label3") {
		t.Fatal("keyword file written before a file uses the letter")
	}
	if _, err := f.Rename(files[IMAPKey(1, 1)], letters); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(kwFile(), "$Label3") {
		t.Fatalf("rename to a new letter did not write the keyword file first: %q", kwFile())
	}
}
