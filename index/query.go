package index

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Limits of a query, so that no query string can build an unbounded
// statement.
const (
	maxQueryLen   = 4096
	maxQueryTerms = 64
	maxQueryDepth = 16
)

// QueryError reports a query that does not parse, naming the bad term.
type QueryError struct {
	Term   string // the term as typed ("" at the end of the query)
	Reason string
}

func (e *QueryError) Error() string {
	if e.Term == "" {
		return "bad query: " + e.Reason
	}
	return fmt.Sprintf("bad query term %q: %s", e.Term, e.Reason)
}

// Query is a parsed query. A zero Query matches every message.
type Query struct {
	Root Node
}

// String spells the query so that Parse reads it back the same.
func (q Query) String() string {
	switch n := q.Root.(type) {
	case nil:
		return ""
	case And:
		return joinNodes(n.Terms, " ")
	case Or:
		return joinNodes(n.Terms, " OR ")
	}
	return q.Root.String()
}

// Node is a node of a query's syntax tree: And, Or, Not or a term.
type Node interface {
	String() string
	node()
}

// Field says which text a Text term searches.
type Field int

// Text fields. FieldText is the decoded text: subject, text and HTML
// bodies, attachment names.
const (
	FieldText Field = iota
	FieldFrom
	FieldTo
	FieldCc
	FieldSubject
)

var fieldNames = map[Field]string{FieldFrom: "from", FieldTo: "to", FieldCc: "cc", FieldSubject: "subject"}

type (
	// And matches what every term matches.
	And struct{ Terms []Node }
	// Or matches what any term matches.
	Or struct{ Terms []Node }
	// Not matches what its term does not.
	Not struct{ Term Node }
	// Text matches words, a phrase (Phrase) or a word prefix (Prefix) in
	// a text field, ignoring case and diacritics.
	Text struct {
		Field  Field
		Value  string
		Phrase bool // typed in quotes
		Prefix bool // typed with a trailing *
	}
	// MessageID matches a Message-ID exactly, with or without <>.
	MessageID struct{ ID string }
	// Folder matches a folder name exactly, or as a glob where * stands
	// for any run of characters.
	Folder struct{ Pattern string }
	// Flag matches a system flag (\Seen…) or a keyword.
	Flag struct{ Name string }
	// Attachment matches an attachment's extension (no dot: "pdf" matches
	// *.pdf, or a word of the name) or words of its name.
	Attachment struct{ Name string }
	// Date matches INTERNALDATEs at or after T (after:), or before T
	// (before:, exclusive).
	Date struct {
		Before bool
		T      time.Time
	}
	// Size matches sizes strictly larger (Larger) or smaller than Bytes.
	Size struct {
		Larger bool
		Bytes  int64
	}
	// Gone matches messages deleted on the server (Yes) or still there.
	Gone struct{ Yes bool }
)

func (And) node()        {}
func (Or) node()         {}
func (Not) node()        {}
func (Text) node()       {}
func (MessageID) node()  {}
func (Folder) node()     {}
func (Flag) node()       {}
func (Attachment) node() {}
func (Date) node()       {}
func (Size) node()       {}
func (Gone) node()       {}

func (n And) String() string { return "(" + joinNodes(n.Terms, " ") + ")" }
func (n Or) String() string  { return "(" + joinNodes(n.Terms, " OR ") + ")" }
func (n Not) String() string { return "-" + n.Term.String() }

func (n Text) String() string {
	s := n.Value
	if n.Phrase {
		s = `"` + s + `"`
	}
	if n.Prefix {
		s += "*"
	}
	if f, ok := fieldNames[n.Field]; ok {
		return f + ":" + s
	}
	return s
}

func (n MessageID) String() string  { return "message-id:" + quoteValue("<"+n.ID+">") }
func (n Folder) String() string     { return "folder:" + quoteValue(n.Pattern) }
func (n Flag) String() string       { return "flag:" + quoteValue(n.Name) }
func (n Attachment) String() string { return "attachment:" + quoteValue(n.Name) }
func (n Size) String() string {
	return map[bool]string{true: "larger:", false: "smaller:"}[n.Larger] + strconv.FormatInt(n.Bytes, 10)
}
func (n Gone) String() string { return map[bool]string{true: "gone:yes", false: "gone:no"}[n.Yes] }

func (n Date) String() string {
	return map[bool]string{true: "before:", false: "after:"}[n.Before] + n.T.Format(time.RFC3339Nano)
}

func joinNodes(ns []Node, sep string) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = n.String()
	}
	return strings.Join(s, sep)
}

// quoteValue quotes a field value that would not read back as one word.
func quoteValue(s string) string {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == '(' || r == ')' }) {
		return `"` + s + `"`
	}
	return s
}

// Parse reads a query (see doc/pending/index.md for the language). Dates
// without a time are days in loc (nil: local time). A query that does not
// parse is a *QueryError.
func Parse(s string, loc *time.Location) (Query, error) {
	if loc == nil {
		loc = time.Local
	}
	if len(s) > maxQueryLen {
		return Query{}, &QueryError{Reason: fmt.Sprintf("longer than %d bytes", maxQueryLen)}
	}
	toks, err := lex(s)
	if err != nil {
		return Query{}, err
	}
	p := &parser{toks: toks, loc: loc}
	if len(toks) == 0 {
		return Query{}, nil
	}
	root, err := p.or(0)
	if err != nil {
		return Query{}, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return Query{}, &QueryError{Term: t.raw, Reason: "unexpected here"}
	}
	return Query{Root: root}, nil
}

type parser struct {
	toks  []token
	pos   int
	terms int
	loc   *time.Location
}

func (p *parser) peek() token {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return token{kind: tokEOF}
}

func (p *parser) next() token {
	t := p.peek()
	p.pos++
	return t
}

func (p *parser) or(depth int) (Node, error) {
	var terms []Node
	for {
		n, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		terms = append(terms, n)
		if p.peek().kind != tokOr {
			break
		}
		p.next()
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return Or{Terms: terms}, nil
}

func (p *parser) and(depth int) (Node, error) {
	var terms []Node
	for {
		t := p.peek()
		if t.kind == tokEOF || t.kind == tokRParen || t.kind == tokOr {
			break
		}
		if t.kind == tokAnd {
			if len(terms) == 0 {
				return nil, &QueryError{Term: t.raw, Reason: "needs a term on each side"}
			}
			p.next()
		}
		n, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		terms = append(terms, n)
	}
	switch len(terms) {
	case 0:
		return nil, p.missing()
	case 1:
		return terms[0], nil
	}
	return And{Terms: terms}, nil
}

// missing reports a place where a term was expected.
func (p *parser) missing() error {
	t := p.peek()
	if t.kind == tokEOF && p.pos > 0 {
		t = p.toks[p.pos-1]
	}
	return &QueryError{Term: t.raw, Reason: "a term is missing next to it"}
}

func (p *parser) unary(depth int) (Node, error) {
	if depth >= maxQueryDepth {
		return nil, &QueryError{Term: p.peek().raw, Reason: fmt.Sprintf("nested deeper than %d", maxQueryDepth)}
	}
	t := p.next()
	switch t.kind {
	case tokNot:
		if k := p.peek().kind; k == tokEOF || k == tokRParen || k == tokOr || k == tokAnd {
			return nil, &QueryError{Term: t.raw, Reason: "needs a term after it"}
		}
		n, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return Not{Term: n}, nil
	case tokLParen:
		return p.group(t, depth)
	case tokTerm:
		if p.terms++; p.terms > maxQueryTerms {
			return nil, &QueryError{Term: t.raw, Reason: fmt.Sprintf("more than %d terms", maxQueryTerms)}
		}
		return p.term(t)
	}
	return nil, &QueryError{Term: t.raw, Reason: "a term is missing before it"}
}

func (p *parser) group(open token, depth int) (Node, error) {
	if p.peek().kind == tokRParen {
		return nil, &QueryError{Term: "()", Reason: "empty parentheses"}
	}
	n, err := p.or(depth + 1)
	if err != nil {
		return nil, err
	}
	if p.next().kind != tokRParen {
		return nil, &QueryError{Term: open.raw, Reason: "not closed"}
	}
	return n, nil
}
