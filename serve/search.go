package serve

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// SEARCH. Keys that the catalog row answers (sequence numbers, UIDs,
// flags, INTERNALDATE, size) are tried first; header keys read the root
// header, body and text keys the message, decoded as Dovecot searches it
// (lib-mail/message-search.c): the bodies of text/* and message/* parts
// after their transfer encoding, in UTF-8, without regard to case; TEXT
// also the header fields of every part, with encoded words decoded.

func (s *session) Search(kind imapserver.NumKind, c *imap.SearchCriteria, o *imap.SearchOptions) (*imap.SearchData, error) {
	if o.ReturnSave {
		return nil, &imap.Error{Type: imap.StatusResponseTypeBad, Text: "SEARCHRES is not supported"}
	}
	if err := s.sel.static(c); err != nil {
		return nil, err
	}
	var d imap.SearchData
	var seqs imap.SeqSet
	var uids imap.UIDSet
	for i := range s.sel.msgs {
		m := &s.sel.msgs[i]
		t := &target{s: s, m: m, seq: uint32(i + 1)}
		ok, err := t.match(c)
		if err != nil {
			s.log.Error("search: message cannot be read", "uid", m.uid, "key", m.key, "err", err)
			return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable,
				Text: "A message is damaged or missing in the archive (mailkeep verify tells more)"}
		}
		if !ok {
			continue
		}
		num := t.seq
		if kind == imapserver.NumKindUID {
			num = uint32(m.uid)
		}
		seqs.AddNum(t.seq)
		uids.AddNum(m.uid)
		if d.Min == 0 {
			d.Min = num
		}
		d.Max = num
		d.Count++
	}
	d.All = seqs
	if kind == imapserver.NumKindUID {
		d.All = uids
	}
	return &d, nil
}

// static replaces the "*" of the criteria's sets by the last message.
func (v *view) static(c *imap.SearchCriteria) error {
	n := uint32(len(v.msgs))
	var last imap.UID
	if n > 0 {
		last = v.msgs[n-1].uid
	}
	for _, set := range c.SeqNum {
		for i := range set {
			set[i].Start, set[i].Stop = star(set[i].Start, n), star(set[i].Stop, n)
		}
	}
	for _, set := range c.UID {
		if imap.IsSearchRes(set) {
			return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "SEARCHRES is not supported"}
		}
		for i := range set {
			set[i].Start = imap.UID(star(uint32(set[i].Start), uint32(last)))
			set[i].Stop = imap.UID(star(uint32(set[i].Stop), uint32(last)))
		}
	}
	for i := range c.Not {
		if err := v.static(&c.Not[i]); err != nil {
			return err
		}
	}
	for i := range c.Or {
		for j := range c.Or[i] {
			if err := v.static(&c.Or[i][j]); err != nil {
				return err
			}
		}
	}
	return nil
}

// target is one message being searched; what it reads is kept for the
// message's other keys.
type target struct {
	s    *session
	m    *message
	seq  uint32
	root *part // the structure, or only the root header
	full bool  // root is the whole structure
}

func (t *target) match(c *imap.SearchCriteria) (bool, error) {
	if !t.matchRow(c) {
		return false, nil
	}
	for _, f := range []func(*imap.SearchCriteria) (bool, error){t.matchHeader, t.matchText, t.matchNested} {
		if ok, err := f(c); !ok || err != nil {
			return false, err
		}
	}
	return true, nil
}

// matchRow tries the keys the catalog row answers.
func (t *target) matchRow(c *imap.SearchCriteria) bool {
	for _, set := range c.SeqNum {
		if !set.Contains(t.seq) {
			return false
		}
	}
	for _, set := range c.UID {
		if !set.Contains(t.m.uid) {
			return false
		}
	}
	if !inDays(t.m.date, c.Since, c.Before) {
		return false
	}
	for _, f := range c.Flag {
		if !t.m.has(f) {
			return false
		}
	}
	for _, f := range c.NotFlag {
		if t.m.has(f) {
			return false
		}
	}
	return (c.Larger == 0 || t.m.size > c.Larger) && (c.Smaller == 0 || t.m.size < c.Smaller)
}

// inDays compares the day of t, in its own zone, with since and before.
func inDays(t, since, before time.Time) bool {
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return (since.IsZero() || !day.Before(since)) && (before.IsZero() || day.Before(before))
}

// structure reads the message's structure, or only its root header.
func (t *target) structure(full bool) (*part, error) {
	if t.root != nil && (t.full || !full) {
		return t.root, nil
	}
	root, err := t.s.structure(t.m, full)
	if err != nil {
		return nil, err
	}
	t.root, t.full = root, full
	return root, nil
}

func (t *target) matchHeader(c *imap.SearchCriteria) (bool, error) {
	if len(c.Header) == 0 && c.SentSince.IsZero() && c.SentBefore.IsZero() {
		return true, nil
	}
	root, err := t.structure(false)
	if err != nil {
		return false, err
	}
	for _, h := range c.Header {
		if !headerContains(root.header, h.Key, h.Value) {
			return false, nil
		}
	}
	if !c.SentSince.IsZero() || !c.SentBefore.IsZero() {
		v, _ := field(root.header, "Date")
		sent, err := mail.ParseDate(v)
		if err != nil || !inDays(sent, c.SentSince, c.SentBefore) {
			return false, nil
		}
	}
	return true, nil
}

// headerContains tells whether a field called name has value in its
// decoded text (any such field when value is empty).
func headerContains(header []byte, name, value string) bool {
	needle := strings.ToLower(value)
	found := false
	fields(header, func(n string, v []byte) bool {
		if strings.EqualFold(n, name) && strings.Contains(strings.ToLower(decodeWords(v)), needle) {
			found = true
		}
		return !found
	})
	return found
}

var wordDecoder = &mime.WordDecoder{}

// decodeWords decodes the RFC 2047 encoded words of a header value in
// UTF-8, ISO-8859-1 or US-ASCII; others stay as they are.
func decodeWords(v []byte) string {
	s, err := wordDecoder.DecodeHeader(string(v))
	if err != nil {
		return string(v)
	}
	return s
}

func (t *target) matchText(c *imap.SearchCriteria) (bool, error) {
	for _, needles := range []struct {
		keys    []string
		headers bool
	}{{c.Body, false}, {c.Text, true}} {
		for _, k := range needles.keys {
			ok, err := t.contains(k, needles.headers)
			if !ok || err != nil {
				return false, err
			}
		}
	}
	return true, nil
}

func (t *target) matchNested(c *imap.SearchCriteria) (bool, error) {
	for i := range c.Not {
		ok, err := t.match(&c.Not[i])
		if ok || err != nil {
			return false, err
		}
	}
	for i := range c.Or {
		a, err := t.match(&c.Or[i][0])
		if err != nil {
			return false, err
		}
		if !a {
			if b, err := t.match(&c.Or[i][1]); !b || err != nil {
				return false, err
			}
		}
	}
	return true, nil
}

// contains searches the message's text for key; with headers, the header
// fields of every part too.
func (t *target) contains(key string, headers bool) (bool, error) {
	if key == "" {
		return true, nil
	}
	root, err := t.structure(true)
	if err != nil {
		return false, err
	}
	needle := []byte(strings.ToLower(key))
	var leaves []*part
	found := false
	walk(root, func(pt *part) {
		if headers && !found {
			found = headerText(pt.header, needle)
		}
		if pt.kind == leafPart && textual(pt) {
			leaves = append(leaves, pt)
		}
	})
	if found || len(leaves) == 0 {
		return found, nil
	}
	_, err = t.s.withStream(t.m, func(r io.Reader) (int64, error) {
		found = bodiesContain(r, leaves, needle)
		return 0, nil
	})
	return found, err
}

// walk visits the parts in the order of the message.
func walk(pt *part, fn func(*part)) {
	fn(pt)
	for _, c := range pt.children {
		walk(c, fn)
	}
}

// textual tells whether a part's body is searched: text/* and message/*,
// and parts without a type.
func textual(pt *part) bool {
	c := pt.content()
	return strings.EqualFold(c.typ, "text") || strings.EqualFold(c.typ, "message")
}

// headerText searches each field as "Name: value" with its words decoded.
func headerText(header []byte, needle []byte) bool {
	found := false
	fields(header, func(n string, v []byte) bool {
		line := strings.ToLower(n + ": " + decodeWords(v))
		found = bytes.Contains([]byte(line), needle)
		return !found
	})
	return found
}

// bodiesContain searches the decoded bodies of parts, in order, in r.
func bodiesContain(r io.Reader, parts []*part, needle []byte) bool {
	var off int64
	for _, pt := range parts {
		if _, err := io.CopyN(io.Discard, r, pt.body-off); err != nil {
			return false
		}
		off = pt.end
		body := io.LimitReader(r, pt.end-pt.body)
		if decodedContains(decoder(pt, body), needle) {
			return true
		}
		if _, err := io.Copy(io.Discard, body); err != nil {
			return false
		}
	}
	return false
}

// decoder undoes a part's transfer encoding and charset.
func decoder(pt *part, r io.Reader) io.Reader {
	c := pt.content()
	switch strings.ToLower(c.encoding) {
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &base64Only{r: r})
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	}
	for k, v := range c.params {
		if strings.EqualFold(k, "charset") && isLatin1(v) {
			return &latin1{r: r}
		}
	}
	return r
}

func isLatin1(charset string) bool {
	switch strings.ToLower(charset) {
	case "iso-8859-1", "latin1", "iso_8859-1", "windows-1252", "cp1252":
		return true
	}
	return false
}

// decodedContains searches a decoded body for needle (lower case),
// without regard to case.
func decodedContains(r io.Reader, needle []byte) bool {
	buf := make([]byte, 32<<10)
	var carry, pending []byte
	for {
		n, err := r.Read(buf)
		chunk := append(pending, buf[:n]...)
		cut := completeRunes(chunk, err != nil)
		pending = append([]byte(nil), chunk[cut:]...)
		text := append(carry, bytes.ToLower(chunk[:cut])...)
		if bytes.Contains(text, needle) {
			return true
		}
		carry = append([]byte(nil), text[max(0, len(text)-len(needle)+1):]...)
		if err != nil {
			return false
		}
	}
}

// completeRunes returns how much of b ends in whole UTF-8 sequences: an
// incomplete one at its end waits for the next read, unless at the end.
func completeRunes(b []byte, end bool) int {
	if end {
		return len(b)
	}
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if utf8.FullRune(b[i:]) {
				return len(b)
			}
			return i
		}
	}
	return len(b)
}

// base64Only passes only the bytes of the base64 alphabet, so that line
// ends and stray characters do not stop the decoder.
type base64Only struct{ r io.Reader }

func (b *base64Only) Read(p []byte) (int, error) {
	for {
		n, err := b.r.Read(p)
		k := 0
		for _, c := range p[:n] {
			if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' {
				p[k] = c
				k++
			}
		}
		if k > 0 || err != nil {
			return k, err
		}
	}
}

// latin1 turns ISO-8859-1 into UTF-8.
type latin1 struct {
	r       io.Reader
	in, out []byte
	pending []byte // converted, not yet read
}

func (l *latin1) Read(p []byte) (int, error) {
	for len(l.pending) == 0 {
		if l.in == nil {
			l.in = make([]byte, 16<<10)
		}
		n, err := l.r.Read(l.in)
		l.out = l.out[:0]
		for _, c := range l.in[:n] {
			l.out = utf8.AppendRune(l.out, rune(c))
		}
		l.pending = l.out
		if n == 0 && err != nil {
			return 0, err
		}
	}
	n := copy(p, l.pending)
	l.pending = l.pending[n:]
	return n, nil
}
