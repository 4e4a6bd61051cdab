package serve

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"mime"
	"strings"
)

// A message's MIME structure as byte offsets, found in one pass over its
// stream with bounded memory: a part keeps at most maxPartHeader bytes of
// its header, a message at most maxHeaders of them in all, and parts end
// after maxParts or maxDepth levels (the rest of the message is then the
// last part's body). Sections are sent from these offsets with a second
// pass over the stream, so no body is ever held.
//
// The parsing rules are Dovecot's (lib-mail/message-parser.c), so that a
// client sees the same parts from both servers: a boundary line starts
// with "--" and the longest open boundary; the line end before a boundary
// belongs to the boundary; a boundary also ends a header that has no
// empty line; Content-Type counts only in a MIME part (one with
// MIME-Version or Content-Type, or inside a multipart); the default type
// is text/plain, message/rfc822 inside multipart/digest.

const (
	maxParts      = 5000
	maxDepth      = 100
	maxPartHeader = 64 << 10
	maxHeaders    = 1 << 20
	readerSize    = 16 << 10
	bodyKeep      = 128 // of a body line: enough to match a boundary (at most 70 bytes)
)

type partKind int

const (
	leafPart partKind = iota
	multipartPart
	messagePart // message/rfc822: one child, the message it encapsulates
)

// part is one MIME part: offsets into the message.
type part struct {
	hdr, body, end int64 // header start, body start, end (exclusive)
	lines          int64 // line ends (LF) in the body
	header         []byte
	kind           partKind
	mime           bool // its Content-* fields count
	digest         bool // multipart/digest: children default to message/rfc822
	children       []*part
}

// line is a line of the message as the parser peeks at it.
type line struct {
	start int64
	n     int64  // its length, line end included
	nl    int    // the line end's length: 2 (CRLF), 1 (LF) or 0 (none, at EOF)
	head  []byte // its first bytes (all of it when short)
}

func (l *line) blank() bool {
	return l.n == int64(l.nl) && l.nl > 0
}

type boundary struct {
	delim []byte // "--" + the boundary
	owner *part
}

type parser struct {
	r      *bufio.Reader
	off    int64 // offset of the next line
	lf     int64 // LFs before off
	cur    line  // the peeked line, when peeked
	peeked bool
	eof    bool
	prev   line // the last line consumed
	bounds []boundary
	parts  int
	kept   int // header bytes kept
	keep   int // how much of a peeked line to keep
	buf    []byte
}

// parseStructure reads a whole message and returns its root part.
func parseStructure(r io.Reader) (*part, error) {
	p := &parser{r: newReader(r), keep: bodyKeep}
	root := &part{}
	if err := p.parsePart(root, false, false, 0); err != nil {
		return nil, err
	}
	if err := p.drain(); err != nil {
		return nil, err
	}
	root.end = p.off
	return root, nil
}

func newReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, readerSize) }

// drain reads to the end, so that the verified stream checks the whole
// message.
func (p *parser) drain() error {
	if p.peeked {
		p.consume()
	}
	n, err := io.Copy(io.Discard, p.r)
	p.off += n
	return err
}

// peek reads the next line without consuming it; io.EOF at the end.
func (p *parser) peek() (*line, error) {
	if p.peeked {
		return &p.cur, nil
	}
	if p.eof {
		return nil, io.EOF
	}
	l := line{start: p.off}
	p.buf = p.buf[:0]
	var last byte // the last byte of the previous fragment
	for {
		frag, err := p.r.ReadSlice('\n')
		l.n += int64(len(frag))
		if room := p.keep - len(p.buf); room > 0 {
			p.buf = append(p.buf, frag[:min(room, len(frag))]...)
		}
		if err == nil {
			l.nl = 1
			if len(frag) >= 2 && frag[len(frag)-2] == '\r' || len(frag) == 1 && last == '\r' {
				l.nl = 2
			}
			break
		}
		if err == io.EOF {
			p.eof = true
			if l.n == 0 {
				return nil, io.EOF
			}
			break
		}
		if err != bufio.ErrBufferFull {
			return nil, err
		}
		last = frag[len(frag)-1]
	}
	l.head = p.buf
	p.cur, p.peeked = l, true
	return &p.cur, nil
}

func (p *parser) consume() {
	p.off += p.cur.n
	if p.cur.nl > 0 {
		p.lf++
	}
	p.prev = p.cur
	p.peeked = false
}

// boundaryOf returns the open boundary a line starts, if any: the longest
// that matches.
func (p *parser) boundaryOf(l *line) *boundary {
	if !bytes.HasPrefix(l.head, []byte("--")) {
		return nil
	}
	var best *boundary
	for i := range p.bounds {
		b := &p.bounds[i]
		if bytes.HasPrefix(l.head, b.delim) && (best == nil || len(b.delim) > len(best.delim)) {
			best = b
		}
	}
	return best
}

// endAt ends pt where the parser stopped: at the end of the message, or
// before the line end that precedes a boundary line.
func (p *parser) endAt(pt *part, bodyLF int64) {
	pt.end, pt.lines = p.off, p.lf-bodyLF
	if p.peeked && p.prev.nl > 0 && p.prev.start >= pt.body && p.off > pt.body {
		pt.end -= int64(p.prev.nl)
		pt.lines--
	}
}

// parsePart reads a part from the current line to the next line that
// starts an enclosing boundary (left unconsumed) or to the end.
func (p *parser) parsePart(pt *part, inMultipart, inDigest bool, depth int) error {
	p.parts++
	pt.hdr = p.off
	done, err := p.header(pt)
	if err != nil || done {
		return err
	}
	ctype, params := pt.contentType(inMultipart)
	switch {
	case depth >= maxDepth || p.parts >= maxParts:
	case strings.HasPrefix(ctype, "multipart/"):
		pt.kind, pt.digest = multipartPart, ctype == "multipart/digest"
	case ctype == "message/rfc822" || ctype == "" && inDigest:
		pt.kind = messagePart
	}
	bodyLF := p.lf
	switch {
	case pt.kind == multipartPart && params["boundary"] != "":
		err = p.multipartBody(pt, params["boundary"], depth)
	case pt.kind == messagePart:
		child := &part{}
		pt.children = []*part{child}
		err = p.parsePart(child, false, false, depth+1)
	default:
		err = p.leafBody()
	}
	if err != nil {
		return err
	}
	p.endAt(pt, bodyLF)
	return nil
}

// header reads a part's header. done is true when a boundary or the end
// of the message ended it: the part has no body.
func (p *parser) header(pt *part) (done bool, err error) {
	p.keep = maxPartHeader
	defer func() { p.keep = bodyKeep }()
	for {
		l, err := p.peek()
		if err == io.EOF {
			pt.body, pt.end = p.off, p.off
			return true, nil
		}
		if err != nil {
			return false, err
		}
		if p.boundaryOf(l) != nil {
			pt.body = p.off
			if p.prev.nl > 0 && p.prev.start >= pt.hdr && p.off > pt.hdr {
				pt.body -= int64(p.prev.nl)
			}
			pt.end = pt.body
			return true, nil
		}
		if room := min(maxPartHeader-len(pt.header), maxHeaders-p.kept); room > 0 {
			keep := l.head[:min(room, len(l.head))]
			pt.header = append(pt.header, keep...)
			p.kept += len(keep)
		}
		p.consume()
		if l.blank() {
			pt.body = p.off
			return false, nil
		}
	}
}

// multipartBody reads the preamble, the parts and the epilogue.
func (p *parser) multipartBody(pt *part, delim string, depth int) error {
	p.bounds = append(p.bounds, boundary{delim: []byte("--" + delim), owner: pt})
	defer p.closeBoundary(pt)
	open := true
	for {
		l, err := p.peek()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		b := p.boundaryOf(l)
		switch {
		case b == nil:
			p.consume() // preamble or epilogue
			continue
		case b.owner != pt:
			return nil // an enclosing part's boundary ends this part too
		}
		closing := bytes.HasPrefix(l.head[len(b.delim):], []byte("--"))
		p.consume()
		if closing && open {
			p.closeBoundary(pt)
			open = false
			continue
		}
		if p.parts >= maxParts {
			continue // no more parts: the rest is this part's body
		}
		child := &part{mime: true}
		pt.children = append(pt.children, child)
		if err := p.parsePart(child, true, pt.digest, depth+1); err != nil {
			return err
		}
	}
}

func (p *parser) closeBoundary(pt *part) {
	for i := len(p.bounds) - 1; i >= 0; i-- {
		if p.bounds[i].owner == pt {
			p.bounds = p.bounds[:i]
			return
		}
	}
}

// leafBody reads a body that holds no parts.
func (p *parser) leafBody() error {
	for {
		l, err := p.peek()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if p.boundaryOf(l) != nil {
			return nil
		}
		p.consume()
	}
}

// Header fields.

// fields calls fn with each field of a header: its name and its value
// unfolded (line ends removed, leading white space trimmed). It stops
// when fn returns false.
func fields(header []byte, fn func(name string, value []byte) bool) {
	for len(header) > 0 {
		end := fieldEnd(header)
		field := header[:end]
		header = header[end:]
		name, value, ok := bytes.Cut(field, []byte(":"))
		if !ok {
			continue
		}
		v := bytes.ReplaceAll(value, []byte("\r\n"), nil)
		v = bytes.ReplaceAll(v, []byte("\n"), nil)
		if !fn(string(bytes.TrimRight(name, " \t")), bytes.TrimLeft(v, " \t")) {
			return
		}
	}
}

// fieldEnd returns the length of the first field of header, continuation
// lines included.
func fieldEnd(header []byte) int {
	i := 0
	for {
		j := bytes.IndexByte(header[i:], '\n')
		if j < 0 {
			return len(header)
		}
		i += j + 1
		if i >= len(header) || header[i] != ' ' && header[i] != '\t' {
			return i
		}
	}
}

// field returns the value of the first field called name.
func field(header []byte, name string) (value string, ok bool) {
	fields(header, func(n string, v []byte) bool {
		if strings.EqualFold(n, name) {
			value, ok = string(v), true
			return false
		}
		return true
	})
	return value, ok
}

// isMIME tells whether a part's Content-* fields count.
func (pt *part) isMIME() bool {
	if pt.mime {
		return true
	}
	_, version := field(pt.header, "MIME-Version")
	_, ctype := field(pt.header, "Content-Type")
	return version || ctype
}

// contentType returns the part's media type, lower case, and parameters;
// "" when it has none (or none that counts).
func (pt *part) contentType(inMultipart bool) (string, map[string]string) {
	pt.mime = pt.mime || inMultipart
	v, ok := field(pt.header, "Content-Type")
	if !ok || !pt.isMIME() {
		return "", nil
	}
	t, params, err := mime.ParseMediaType(v)
	if err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter) {
		return "", nil
	}
	return t, params
}
