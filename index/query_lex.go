package index

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokKind int

const (
	tokEOF tokKind = iota
	tokTerm
	tokLParen
	tokRParen
	tokOr
	tokAnd
	tokNot
)

// token is one lexical unit. A term has an optional field name and a
// value, either a bare word or a quoted phrase, possibly ending in *.
type token struct {
	kind   tokKind
	raw    string // as typed
	field  string // lowercase field name, "" for free text
	value  string
	quoted bool
	prefix bool
}

// fields are the known field names.
var fields = map[string]bool{"from": true, "to": true, "cc": true, "subject": true, "message-id": true,
	"folder": true, "flag": true, "attachment": true, "after": true, "before": true, "larger": true,
	"smaller": true, "gone": true}

func lex(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case unicode.IsSpace(r):
			i += size
		case r == '(' || r == ')':
			toks = append(toks, token{kind: map[rune]tokKind{'(': tokLParen, ')': tokRParen}[r], raw: string(r)})
			i++
		case r == '-' && i+1 < len(s) && (s[i+1] == '(' || !endsWord(s[i+1:])):
			toks = append(toks, token{kind: tokNot, raw: "-"})
			i++
		default:
			t, n, err := lexTerm(s[i:])
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
			i += n
		}
	}
	return toks, nil
}

// endsWord reports whether s begins with a character that ends a word.
func endsWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsSpace(r) || r == '(' || r == ')'
}

// word returns the length of the bare word at the start of s: up to a
// space, a parenthesis or a quote.
func word(s string) int {
	n := strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || strings.ContainsRune(`()"`, r) })
	if n < 0 {
		return len(s)
	}
	return n
}

// lexTerm reads one term and returns it with the bytes it took.
func lexTerm(s string) (token, int, error) {
	if s[0] == '"' {
		return lexValue(s, 0, token{kind: tokTerm})
	}
	w := s[:word(s)]
	switch w {
	case "OR":
		return token{kind: tokOr, raw: w}, len(w), nil
	case "AND":
		return token{kind: tokAnd, raw: w}, len(w), nil
	case "NOT":
		return token{kind: tokNot, raw: w}, len(w), nil
	}
	name, _, ok := strings.Cut(w, ":")
	field := strings.ToLower(name)
	if !ok || !fields[field] {
		if ok && isFieldName(name) && len(name) < len(w)-1 {
			return token{}, 0, &QueryError{Term: w, Reason: "unknown field " + name +
				`: (quote the term to search for it as text)`}
		}
		if w == "" {
			return token{}, 0, &QueryError{Term: s[:1], Reason: "unexpected character"}
		}
		return lexValue(s, 0, token{kind: tokTerm})
	}
	return lexValue(s, len(name)+1, token{kind: tokTerm, field: field})
}

// isFieldName reports whether s looks like a field name (letters and -).
func isFieldName(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-') })
}

// lexValue reads the value that starts at s[at:]: a quoted phrase or a
// bare word, then an optional *.
func lexValue(s string, at int, t token) (token, int, error) {
	end := at
	if at < len(s) && s[at] == '"' {
		closing := strings.IndexByte(s[at+1:], '"')
		if closing < 0 {
			return token{}, 0, &QueryError{Term: s[:at+word(s[at+1:])+1], Reason: "quote not closed"}
		}
		t.value, t.quoted = s[at+1:at+1+closing], true
		end = at + closing + 2
	} else {
		end = at + word(s[at:])
		t.value = s[at:end]
	}
	if strings.HasPrefix(s[end:], "*") && t.quoted {
		t.prefix, end = true, end+1
	} else if !t.quoted && strings.HasSuffix(t.value, "*") {
		t.prefix, t.value = true, strings.TrimRight(t.value, "*")
	}
	t.raw = s[:end]
	return t, end, nil
}
