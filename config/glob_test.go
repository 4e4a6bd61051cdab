package config

import (
	"regexp"
	"strings"
	"testing"
)

func TestMatchGlob(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"*", "", true},
		{"*", "Archive/2024/Q1", true},
		{"Archive", "Archive", true},
		{"Archive", "archive", false},
		{"Archive", "Archive/2024", false},
		{"Archive/*", "Archive/2024/Q1", true},
		{"Archive/*", "Archive", false},
		{"Archive*", "Archive", true},
		{"*/Sent", "Work/Sent", true},
		{"*/Sent", "Sent", false},
		{"?", "ä", true},
		{"?", "ab", false},
		{"a?c", "abc", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbYcb", false},
		{"*a*a*a*a*b", strings.Repeat("a", 60), false},
		{`\*`, "*", true},
		{`\*`, "x", false},
		{`\?`, "x", false},
		{`a\\b`, `a\b`, true},
		{`\a`, "a", true},
		{"a**b", "ab", true},
		{"Entwürfe", "Entwürfe", true},
		{"[Gmail]/*", "[Gmail]/Sent Mail", true},
		// INBOX is matched in any case as the first component only.
		{"inbox", "INBOX", true},
		{"INBOX", "inbox", true},
		{"Inbox/*", "INBOX/x", true},
		{"INBOX/*", "inbox/x", true},
		{"INBOX.*", "inbox.x", true},
		{"INBOX*", "inbox", true},
		{"inbox*", "INBOX", false}, // the pattern's first component is "inbox*"
		{"inboxes", "INBOXES", false},
		{"INBOX", "INBOXES", false},
		{"x/inbox", "x/INBOX", false},
		{"ınbox", "INBOX", false},
	}
	for _, tt := range tests {
		a := Account{Folders: Folders{Include: []string{tt.pattern}}}
		if got := a.MatchFolder(tt.name); got != tt.want {
			t.Errorf("pattern %q, folder %q: got %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func TestMatchFolder(t *testing.T) {
	a := Account{Folders: Folders{
		Include: []string{"INBOX", "INBOX/*", "Archive/*"},
		Exclude: []string{"*/Spam", "Archive/old*"},
	}}
	tests := []struct {
		name string
		want bool
	}{
		{"INBOX", true},
		{"Inbox/Work", true},
		{"INBOX/Spam", false},
		{"Archive/2024", true},
		{"Archive/old-2010", false},
		{"Archive", false},
		{"Sent", false},
	}
	for _, tt := range tests {
		if got := a.MatchFolder(tt.name); got != tt.want {
			t.Errorf("MatchFolder(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestMatchFolderWithoutInclude(t *testing.T) {
	a := Account{Folders: Folders{Exclude: []string{"Trash"}}}
	if !a.MatchFolder("INBOX") || a.MatchFolder("Trash") {
		t.Error("with no include, every folder but the excluded ones matches")
	}
}

func TestCompileGlobErrors(t *testing.T) {
	tests := []struct {
		pattern string
		bad     bool
	}{
		{`a\`, true},
		{`a\\\`, true},
		{`a\\`, false},
		{`\`, true},
		{`*`, false},
	}
	for _, tt := range tests {
		if _, err := compileGlob(tt.pattern); (err != nil) != tt.bad {
			t.Errorf("compileGlob(%q) error = %v, want error %v", tt.pattern, err, tt.bad)
		}
	}
}

// A lone trailing backslash that got past the checks matches a backslash.
func TestMatchFolderLoneBackslash(t *testing.T) {
	a := Account{Folders: Folders{Include: []string{`a\`}}}
	if !a.MatchFolder(`a\`) || a.MatchFolder("a") {
		t.Error(`pattern "a\\" should match only "a\\"`)
	}
}

func FuzzMatchFolder(f *testing.F) {
	for _, seed := range [][2]string{
		{"*", "INBOX"}, {"inbox/*", "INBOX/x"}, {"a*b?c", "aXXbYc"}, {`\*\?\\`, `*?\`},
		{"*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}, {"Entw?rfe", "Entwürfe"}, {"?", "\xff"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		g, _ := compileGlob(pattern)
		n := foldInbox([]rune(name))
		if got, want := matchGlob(g, n), globRegexp(g).MatchString(string(n)); got != want {
			t.Errorf("pattern %q, name %q: matchGlob %v, regexp %v", pattern, name, got, want)
		}
		if !(&Account{Folders: Folders{Include: []string{quoteGlob(name)}}}).MatchFolder(name) {
			t.Errorf("quoted %q does not match itself", name)
		}
	})
}

// globRegexp is the reference the matcher is checked against.
func globRegexp(g []rune) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`(?s)^`)
	for _, r := range g {
		switch r {
		case anyRun:
			b.WriteString(`.*`)
		case anyRune:
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`$`)
	return regexp.MustCompile(b.String())
}

// quoteGlob escapes every character of s, making a pattern that matches
// only s.
func quoteGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune('\\')
		b.WriteRune(r)
	}
	return b.String()
}
