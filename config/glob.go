package config

import (
	"errors"
	"slices"
)

// A glob is a folder pattern as runes: literal runes, and these two
// negative values for the wildcards.
const (
	anyRune rune = -1 // ?
	anyRun  rune = -2 // *
)

var errLoneBackslash = errors.New(`ends with a lone "\"`)

// compileGlob turns a pattern into a glob: "*" matches any run of
// characters, hierarchy delimiters included; "?" matches one character;
// "\" makes the next character literal. A trailing lone "\" is reported
// and kept as a literal backslash. A leading INBOX component is folded to
// upper case, as folder names are by foldInbox.
func compileGlob(pattern string) ([]rune, error) {
	var g []rune
	var err error
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; {
		case r == '*' && len(g) > 0 && g[len(g)-1] == anyRun:
		case r == '*':
			g = append(g, anyRun)
		case r == '?':
			g = append(g, anyRune)
		case r == '\\' && i+1 < len(rs):
			i++
			g = append(g, rs[i])
		case r == '\\':
			err = errLoneBackslash
			g = append(g, r)
		default:
			g = append(g, r)
		}
	}
	return foldInbox(g), err
}

// foldInbox writes a leading "INBOX" component in upper case: IMAP treats
// the name INBOX case-insensitively (RFC 3501 5.1). A component ends at
// "/" or ".", the usual hierarchy delimiters.
func foldInbox(rs []rune) []rune {
	if len(rs) < 5 || (len(rs) > 5 && rs[5] != '/' && rs[5] != '.') {
		return rs
	}
	for i, r := range rs[:5] {
		if r|0x20 != rune("inbox"[i]) {
			return rs
		}
	}
	rs = slices.Clone(rs)
	copy(rs, []rune("INBOX"))
	return rs
}

// matchGlob reports whether name matches g. It is the two-pointer
// algorithm: on a mismatch it retries from the last "*" one character
// further on, so it takes at most len(g)×len(name) steps.
func matchGlob(g, name []rune) bool {
	p, n, star, next := 0, 0, -1, 0
	for n < len(name) {
		switch {
		case p < len(g) && g[p] == anyRun:
			star, next = p, n
			p++
		case p < len(g) && (g[p] == anyRune || g[p] == name[n]):
			p++
			n++
		case star >= 0:
			next++
			p, n = star+1, next
		default:
			return false
		}
	}
	for p < len(g) && g[p] == anyRun {
		p++
	}
	return p == len(g)
}

// MatchFolder reports whether the account backs up the IMAP folder name,
// its full name as the server gives it: the name must match an include
// pattern (an empty list includes everything) and no exclude pattern.
// Patterns are case-sensitive, except that a first component "INBOX"
// matches in any case.
func (a *Account) MatchFolder(name string) bool {
	n := foldInbox([]rune(name))
	included := len(a.Folders.Include) == 0 || matchAny(a.Folders.Include, n)
	return included && !matchAny(a.Folders.Exclude, n)
}

func matchAny(patterns []string, name []rune) bool {
	for _, p := range patterns {
		if g, _ := compileGlob(p); matchGlob(g, name) {
			return true
		}
	}
	return false
}
