package serve_test

import (
	"fmt"
	"mime"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A small reader of IMAP response data, to compare what two servers say
// rather than how they spell it: quoted strings and literals are equal,
// the order of FETCH items and of untagged responses does not matter.

// node is one datum of a response.
type node struct {
	atom  string  // an atom (or NIL when nilv)
	str   *string // a string, quoted or literal
	list  []node  // a parenthesized list
	isLst bool
	nilv  bool
}

func (n node) String() string {
	switch {
	case n.nilv:
		return "NIL"
	case n.str != nil:
		return strconv.Quote(*n.str)
	case n.isLst:
		parts := make([]string, len(n.list))
		for i, c := range n.list {
			parts[i] = c.String()
		}
		return "(" + strings.Join(parts, " ") + ")"
	}
	return n.atom
}

// text is a string or an atom's text; "" for NIL.
func (n node) text() string {
	if n.str != nil {
		return *n.str
	}
	return n.atom
}

type tokenizer struct {
	s string
	i int
}

// parseData reads the data of a response (after "* ") into nodes.
func parseData(s string) ([]node, error) {
	t := &tokenizer{s: strings.TrimSuffix(s, "\r\n")}
	var out []node
	for {
		t.space()
		if t.i >= len(t.s) {
			return out, nil
		}
		n, err := t.node()
		if err != nil {
			return out, err
		}
		out = append(out, n)
	}
}

func (t *tokenizer) space() {
	for t.i < len(t.s) && t.s[t.i] == ' ' {
		t.i++
	}
}

func (t *tokenizer) node() (node, error) {
	switch c := t.s[t.i]; {
	case c == '(':
		t.i++
		var l []node
		for {
			t.space()
			if t.i >= len(t.s) {
				return node{}, fmt.Errorf("unclosed list")
			}
			if t.s[t.i] == ')' {
				t.i++
				return node{list: l, isLst: true}, nil
			}
			n, err := t.node()
			if err != nil {
				return node{}, err
			}
			l = append(l, n)
		}
	case c == '"':
		return t.quoted()
	case c == '{' || c == '~' && t.i+1 < len(t.s) && t.s[t.i+1] == '{':
		return t.literal()
	}
	return t.atom(), nil
}

func (t *tokenizer) quoted() (node, error) {
	var b strings.Builder
	for t.i++; t.i < len(t.s); t.i++ {
		switch c := t.s[t.i]; c {
		case '\\':
			t.i++
			b.WriteByte(t.s[t.i])
		case '"':
			t.i++
			s := b.String()
			return node{str: &s}, nil
		default:
			b.WriteByte(c)
		}
	}
	return node{}, fmt.Errorf("unclosed string")
}

func (t *tokenizer) literal() (node, error) {
	end := strings.Index(t.s[t.i:], "}\r\n")
	if end < 0 {
		return node{}, fmt.Errorf("bad literal")
	}
	head := strings.TrimLeft(t.s[t.i:t.i+end], "~{")
	n, err := strconv.Atoi(strings.TrimSuffix(head, "+"))
	if err != nil {
		return node{}, err
	}
	t.i += end + 3
	s := t.s[t.i : t.i+n]
	t.i += n
	return node{str: &s}, nil
}

// atom reads an atom; a "[...]" in it (a section or a response code) may
// hold spaces and parentheses.
func (t *tokenizer) atom() node {
	start, depth := t.i, 0
	for ; t.i < len(t.s); t.i++ {
		c := t.s[t.i]
		switch {
		case c == '[':
			depth++
		case c == ']':
			depth--
		case depth == 0 && (c == ' ' || c == '(' || c == ')'):
			return atomNode(t.s[start:t.i])
		}
	}
	return atomNode(t.s[start:])
}

func atomNode(a string) node {
	if strings.EqualFold(a, "NIL") {
		return node{nilv: true}
	}
	return node{atom: a}
}

// canonical returns a server-neutral form of an untagged response, or ""
// for a response that says nothing about the archive (capabilities,
// informational codes, \Recent counts).
func canonical(resp string) (string, error) {
	data, err := parseData(strings.TrimPrefix(resp, "* "))
	if err != nil || len(data) == 0 {
		return "", fmt.Errorf("%q: %v", resp, err)
	}
	first := strings.ToUpper(data[0].atom)
	switch {
	case first == "OK":
		return okCode(data), nil
	case first == "CAPABILITY" || first == "BYE":
		return "", nil
	case first == "FLAGS":
		return "FLAGS " + flagSet(data[1]), nil
	case first == "LIST" || first == "LSUB":
		return listResp(first, data), nil
	case first == "STATUS":
		return "STATUS " + data[1].text() + " " + pairs(data[2].list), nil
	case first == "SEARCH":
		return "SEARCH " + numbers(data[1:]), nil
	case first == "ESEARCH":
		return esearch(data[1:]), nil
	case first == "NAMESPACE":
		return "NAMESPACE " + node{list: data[1:], isLst: true}.String(), nil
	}
	if len(data) >= 2 {
		switch strings.ToUpper(data[1].atom) {
		case "EXISTS":
			return data[0].atom + " EXISTS", nil
		case "RECENT":
			return "", nil
		case "FETCH":
			return data[0].atom + " FETCH " + fetchItems(data[2].list), nil
		}
	}
	return "", fmt.Errorf("unknown response %q", resp)
}

// okCode keeps the response codes that describe the mailbox.
func okCode(data []node) string {
	if len(data) < 2 || !strings.HasPrefix(data[1].atom, "[") {
		return ""
	}
	code := strings.Trim(data[1].atom, "[]")
	name, _, _ := strings.Cut(code, " ")
	switch strings.ToUpper(name) {
	case "UIDVALIDITY", "UIDNEXT", "UNSEEN":
		return "OK [" + code + "]"
	case "PERMANENTFLAGS":
		return "OK [PERMANENTFLAGS]" // Dovecot lists none, go-imap writes them: both say "none permanent"
	}
	return ""
}

// flagSet is a flag list without \Recent, sorted, in lower case.
func flagSet(n node) string {
	var f []string
	for _, c := range n.list {
		if !strings.EqualFold(c.atom, `\Recent`) {
			f = append(f, strings.ToLower(c.atom))
		}
	}
	slices.Sort(f)
	return "(" + strings.Join(f, " ") + ")"
}

// specialUse are attributes of the server's configuration, not of the
// archive.
var specialUse = []string{`\all`, `\archive`, `\drafts`, `\flagged`, `\junk`, `\sent`, `\trash`, `\subscribed`}

func listResp(kind string, data []node) string {
	var attrs []string
	for _, a := range data[1].list {
		if l := strings.ToLower(a.atom); !slices.Contains(specialUse, l) {
			attrs = append(attrs, l)
		}
	}
	slices.Sort(attrs)
	rest := ""
	if len(data) > 4 {
		rest = " " + node{list: data[4:], isLst: true}.String()
	}
	return fmt.Sprintf("%s (%s) %s %s%s", kind, strings.Join(attrs, " "), data[2], data[3].text(), rest)
}

// pairs is a list of name-value pairs, sorted by name.
func pairs(l []node) string {
	var p []string
	for i := 0; i+1 < len(l); i += 2 {
		p = append(p, strings.ToUpper(l[i].text())+" "+l[i+1].String())
	}
	slices.Sort(p)
	return strings.Join(p, " ")
}

func numbers(l []node) string {
	var n []int
	for _, c := range l {
		v, _ := strconv.Atoi(c.atom)
		n = append(n, v)
	}
	slices.Sort(n)
	return fmt.Sprint(n)
}

func esearch(l []node) string {
	var out []string
	for i := 0; i < len(l); i++ {
		switch a := strings.ToUpper(l[i].atom); {
		case l[i].isLst: // (TAG "x")
		case a == "UID":
			out = append(out, a)
		case i+1 < len(l):
			out = append(out, a+" "+l[i+1].atom)
			i++
		}
	}
	return "ESEARCH " + strings.Join(out, " ")
}

// fetchItems is a FETCH response's items, each in a neutral form, sorted.
func fetchItems(l []node) string {
	var items []string
	for i := 0; i+1 < len(l); i += 2 {
		name, v := strings.ToUpper(l[i].atom), l[i+1]
		switch {
		case name == "FLAGS":
			items = append(items, name+" "+flagSet(v))
		case name == "INTERNALDATE":
			d, err := time.Parse("_2-Jan-2006 15:04:05 -0700", strings.TrimSpace(v.text()))
			items = append(items, fmt.Sprintf("%s %v %v", name, d.Unix(), err))
		case name == "ENVELOPE":
			items = append(items, name+" "+envelopeText(v))
		case name == "BODY" || name == "BODYSTRUCTURE":
			items = append(items, name+" "+bodyText(v))
		case strings.HasPrefix(name, "BODY[") || strings.HasPrefix(name, "RFC822"):
			items = append(items, sectionName(name)+" "+strconv.Quote(v.text()))
		default:
			items = append(items, name+" "+v.String())
		}
	}
	slices.Sort(items)
	return strings.Join(items, " ")
}

// sectionName spells a section with its header field names in upper case
// and unquoted: go-imap echoes them as the client wrote them, Dovecot in
// upper case.
func sectionName(name string) string {
	return strings.ReplaceAll(name, `"`, "")
}

var wd = &mime.WordDecoder{}

// decoded decodes the encoded words of a string; NIL is "".
func decoded(n node) string {
	s := n.text()
	if d, err := wd.DecodeHeader(s); err == nil {
		return d
	}
	return s
}

// envelopeText is an envelope with its date as an instant and its
// subject and names decoded (go-imap encodes them anew).
func envelopeText(n node) string {
	l := n.list
	var b strings.Builder
	d, err := mail.ParseDate(l[0].text())
	fmt.Fprintf(&b, "(%v %q", d.Unix(), decoded(l[1]))
	if err != nil {
		fmt.Fprintf(&b, " date %q", l[0].text())
	}
	for _, addrs := range l[2:8] {
		b.WriteString(" (")
		for _, a := range addrs.list {
			fmt.Fprintf(&b, "(%q %q %q)", decoded(a.list[0]), a.list[2].text(), a.list[3].text())
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, " %q %q)", l[8].text(), l[9].text())
	return b.String()
}

// bodyText is a body structure with the case of types, encodings and
// parameter names ignored, parameters sorted and MD5 left out (go-imap
// writes none).
func bodyText(n node) string {
	l := n.list
	if len(l) > 0 && l[0].isLst { // multipart
		var b strings.Builder
		b.WriteString("(")
		i := 0
		for ; i < len(l) && l[i].isLst; i++ {
			b.WriteString(bodyText(l[i]))
		}
		b.WriteString(" " + strings.ToLower(l[i].text()))
		if i+1 < len(l) {
			b.WriteString(" " + params(l[i+1]) + " " + node{list: l[i+2:], isLst: true}.String())
		}
		return b.String() + ")"
	}
	fields := []string{strings.ToLower(l[0].text()), strings.ToLower(l[1].text()), params(l[2]),
		l[3].String(), l[4].String(), strings.ToLower(l[5].text()), l[6].atom}
	rest := l[7:]
	switch {
	case strings.EqualFold(l[0].text(), "message") && strings.EqualFold(l[1].text(), "rfc822"):
		fields = append(fields, envelopeText(rest[0]), bodyText(rest[1]), rest[2].atom)
		rest = rest[3:]
	case strings.EqualFold(l[0].text(), "text"):
		fields = append(fields, rest[0].atom)
		rest = rest[1:]
	}
	if len(rest) > 0 { // extension data: MD5 left out
		fields = append(fields, dispositionText(rest[1]))
		fields = append(fields, node{list: rest[2:], isLst: true}.String())
	}
	return "(" + strings.Join(fields, " ") + ")"
}

func params(n node) string {
	if !n.isLst {
		return "NIL"
	}
	var p []string
	for i := 0; i+1 < len(n.list); i += 2 {
		p = append(p, strings.ToLower(n.list[i].text())+"="+n.list[i+1].text())
	}
	slices.Sort(p)
	return "(" + strings.Join(p, " ") + ")"
}

func dispositionText(n node) string {
	if !n.isLst {
		return "NIL"
	}
	return "(" + strings.ToLower(n.list[0].text()) + " " + params(n.list[1]) + ")"
}
