package serve

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/mailkeep/mailkeep/archive"
)

// The served folder tree of an account: every folder of the view with its
// server name, one hierarchy delimiter (the server's; "/" for a POP3
// account), a \Noselect parent for each level that is not a folder itself,
// and the Gone folder.

// goneParent and goneLeaf name the folder that holds what the archive kept
// after the server deleted it: mailkeep/Gone with the account's delimiter.
// A folder of the account that has that very name keeps it, and the Gone
// folder becomes mailkeep/Gone-2 (or -3, ...).
const (
	goneParent = "mailkeep"
	goneLeaf   = "Gone"
)

// mailbox is one served folder.
type mailbox struct {
	name     string
	folder   *archive.ViewFolder // the archived folder; nil for Gone and for parents
	gone     bool                // the Gone folder
	noselect bool                // a level of the hierarchy that holds no messages
	children bool
}

// tree is an account's mailboxes, in name order.
type tree struct {
	delim  rune
	boxes  []*mailbox
	byName map[string]*mailbox
}

// newTree builds the tree of the folders of a view.
func newTree(folders []archive.ViewFolder) *tree {
	t := &tree{delim: '/', byName: map[string]*mailbox{}}
	for _, f := range folders {
		if d := []rune(f.Delim); len(d) > 0 {
			t.delim = d[0]
			break
		}
	}
	for i := range folders {
		t.add(&mailbox{name: t.canonical(folders[i].Name), folder: &folders[i]})
	}
	t.add(&mailbox{name: t.goneName(), gone: true})
	for _, b := range slices.Clone(t.boxes) {
		t.addParents(b.name)
	}
	slices.SortFunc(t.boxes, func(a, b *mailbox) int { return strings.Compare(a.name, b.name) })
	return t
}

func (t *tree) add(b *mailbox) {
	if _, dup := t.byName[b.name]; dup {
		return // two archived folders whose names differ only in the case of INBOX
	}
	t.byName[b.name] = b
	t.boxes = append(t.boxes, b)
}

// goneName is mailkeep/Gone, or the first of mailkeep/Gone-2, -3, ... that
// no archived folder uses.
func (t *tree) goneName() string {
	name := goneParent + string(t.delim) + goneLeaf
	for i := 2; t.byName[name] != nil; i++ {
		name = fmt.Sprintf("%s%c%s-%d", goneParent, t.delim, goneLeaf, i)
	}
	return name
}

// addParents adds a \Noselect mailbox for each level above name that is
// not a mailbox, and marks the parents as having children.
func (t *tree) addParents(name string) {
	d := string(t.delim)
	for i := strings.LastIndex(name, d); i > 0; i = strings.LastIndex(name, d) {
		name = name[:i]
		p := t.byName[name]
		if p == nil {
			p = &mailbox{name: name, noselect: true}
			t.add(p)
		}
		p.children = true
	}
}

// canonical spells a first component INBOX in any case as INBOX, as IMAP
// wants it.
func (t *tree) canonical(name string) string {
	first, rest, more := strings.Cut(name, string(t.delim))
	if !strings.EqualFold(first, "INBOX") {
		return name
	}
	if more {
		return "INBOX" + string(t.delim) + rest
	}
	return "INBOX"
}

// lookup finds a mailbox by the name a client gave.
func (t *tree) lookup(name string) *mailbox { return t.byName[t.canonical(name)] }

// selectable finds a mailbox that can be selected, or answers NO.
func (t *tree) selectable(name string) (*mailbox, error) {
	b := t.lookup(name)
	switch {
	case b == nil:
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNonExistent,
			Text: "No such folder in the archive"}
	case b.noselect:
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot,
			Text: "This level of the hierarchy holds no messages"}
	}
	return b, nil
}

// attrs are a mailbox's LIST attributes.
func (b *mailbox) attrs() []imap.MailboxAttr {
	var a []imap.MailboxAttr
	if b.noselect {
		a = append(a, imap.MailboxAttrNoSelect)
	}
	if b.children {
		a = append(a, imap.MailboxAttrHasChildren)
	} else {
		a = append(a, imap.MailboxAttrHasNoChildren)
	}
	return a
}

// matcher matches mailbox names against a LIST reference and patterns.
// A pattern is compiled to a regular expression, so matching takes time
// linear in the name whatever wildcards a client sends.
type matcher struct{ res []*regexp.Regexp }

func newMatcher(t *tree, ref string, patterns []string) (*matcher, error) {
	m := &matcher{}
	d := regexp.QuoteMeta(string(t.delim))
	for _, p := range patterns {
		var b strings.Builder
		b.WriteString(`^(?s:`)
		for _, r := range t.canonical(ref + p) {
			switch r {
			case '*':
				b.WriteString(`.*`)
			case '%':
				b.WriteString(`[^` + d + `]*`)
			default:
				b.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
		b.WriteString(`)$`)
		re, err := regexp.Compile(b.String())
		if err != nil {
			return nil, &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Pattern too complex"}
		}
		m.res = append(m.res, re)
	}
	return m, nil
}

func (m *matcher) match(name string) bool {
	return slices.ContainsFunc(m.res, func(re *regexp.Regexp) bool { return re.MatchString(name) })
}
