package serve

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/emersion/go-imap/v2"
)

// Body sections (RFC 3501 6.4.5) are byte ranges of the message, found
// from its structure, or the header fields of a range; a section is sent
// with a second pass over the stream, so none is ever held whole.

// source is where a section's bytes come from.
type source struct {
	whole    bool     // BODY[]: the whole message
	from, to int64    // else this range
	fields   []string // HEADER.FIELDS: the fields of the range (lower case)
	not      bool     // HEADER.FIELDS.NOT: all fields but these
	filtered bool     // fields or not apply
}

// findPart finds a part by its section number, as Dovecot does
// (lib-imap-storage/imap-msgpart.c): 1 is the body of a message that is
// not multipart, and a number below a message/rfc822 part counts in the
// message it encapsulates.
func findPart(root *part, path []int) *part {
	pt := root
	for i, num := range path {
		more := i < len(path)-1
		if pt.kind == multipartPart {
			if num < 1 || num > len(pt.children) {
				return nil
			}
			pt = pt.children[num-1]
		} else if num != 1 || more && pt.kind != messagePart {
			return nil
		}
		if more && pt.kind == messagePart {
			pt = pt.children[0]
		}
	}
	return pt
}

// sectionSource maps a section to its source in a message whose root part
// (with a full structure when the section names a part) is root. ok is
// false when the message has no such part: the section is empty.
func sectionSource(root *part, item *imap.FetchItemBodySection, size int64) (src source, ok bool) {
	pt := root
	if len(item.Part) > 0 {
		if pt = findPart(root, item.Part); pt == nil {
			return source{}, false
		}
	}
	switch item.Specifier {
	case imap.PartSpecifierNone:
		if len(item.Part) == 0 {
			return source{whole: true, to: size}, true
		}
		return source{from: pt.body, to: pt.end}, true
	case imap.PartSpecifierMIME:
		return source{from: pt.hdr, to: pt.body}, true
	}
	if len(item.Part) > 0 { // HEADER, TEXT and the fields of an encapsulated message
		if pt.kind != messagePart {
			return source{}, false
		}
		pt = pt.children[0]
	}
	if item.Specifier == imap.PartSpecifierText {
		return source{from: pt.body, to: pt.end}, true
	}
	src = source{from: pt.hdr, to: pt.body}
	switch {
	case len(item.HeaderFields) > 0:
		src.filtered, src.fields = true, lowered(item.HeaderFields)
	case len(item.HeaderFieldsNot) > 0:
		src.filtered, src.fields, src.not = true, lowered(item.HeaderFieldsNot), true
	}
	return src, true
}

func lowered(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.ToLower(n)
	}
	return out
}

// needsParts tells whether a section needs the message's full structure
// (it names a part); otherwise the root header is enough.
func needsParts(item *imap.FetchItemBodySection) bool { return len(item.Part) > 0 }

// needsHeader tells whether a section without a part needs to know where
// the root header ends.
func needsHeader(item *imap.FetchItemBodySection) bool {
	return len(item.Part) == 0 && item.Specifier != imap.PartSpecifierNone
}

// window is the part of a section a partial fetch asks for.
type window struct{ off, n int64 }

func partialWindow(p *imap.SectionPartial, size int64) window {
	if p == nil {
		return window{0, size}
	}
	off := min(p.Offset, size)
	return window{off, min(p.Size, size-off)}
}

// copyBuffers are the blocks messages are copied in: 64 KiB, so that a
// big message goes out in few writes, and none allocated per message.
var copyBuffers = sync.Pool{New: func() any { return new([64 << 10]byte) }}

// copyN copies exactly n bytes from r to w.
func copyN(w io.Writer, r io.Reader, n int64) error {
	buf := copyBuffers.Get().(*[64 << 10]byte)
	defer copyBuffers.Put(buf)
	written, err := io.CopyBuffer(w, io.LimitReader(r, n), buf[:])
	if err == nil && written < n {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// copySource writes the window of a section of the message stream r to w.
func copySource(w io.Writer, r io.Reader, src source, win window) error {
	if !src.filtered {
		if err := copyN(io.Discard, r, src.from+win.off); err != nil {
			return err
		}
		return copyN(w, r, win.n)
	}
	if err := copyN(io.Discard, r, src.from); err != nil {
		return err
	}
	ww := &windowWriter{w: w, skip: win.off, left: win.n}
	err := filterFields(ww, io.LimitReader(r, src.to-src.from), src)
	if errors.Is(err, errWindowFull) {
		err = nil
	}
	if err == nil && ww.left > 0 {
		err = fmt.Errorf("header fields: %d bytes short", ww.left)
	}
	return err
}

// filteredSize counts the bytes of a filtered section.
func filteredSize(r io.Reader, src source) (int64, error) {
	if err := copyN(io.Discard, r, src.from); err != nil {
		return 0, err
	}
	c := &countWriter{}
	err := filterFields(c, io.LimitReader(r, src.to-src.from), src)
	return c.n, err
}

// filterFields writes the header fields of r that src selects, each with
// its continuation lines, then the empty line that ends a header. As
// Dovecot, HEADER.FIELDS.NOT of a header that has no empty line (a
// message without a body) ends without one.
func filterFields(w io.Writer, r io.Reader, src source) error {
	br := bufio.NewReaderSize(r, 4096)
	keep, first, ended := false, true, false
	for {
		frag, err := br.ReadSlice('\n')
		if len(frag) > 0 {
			if first && (frag[0] != ' ' && frag[0] != '\t') {
				if isBlank(frag) {
					ended = true
					break
				}
				keep = selects(src, frag)
			}
			if keep {
				if _, werr := w.Write(frag); werr != nil {
					return werr
				}
			}
		}
		first = err == nil
		if err == io.EOF {
			break
		}
		if err != nil && err != bufio.ErrBufferFull {
			return err
		}
	}
	if src.not && !ended {
		return nil
	}
	_, err := w.Write([]byte("\r\n"))
	return err
}

func isBlank(l []byte) bool { return bytes.Equal(l, []byte("\r\n")) || bytes.Equal(l, []byte("\n")) }

// selects tells whether the field that starts on line is one src wants.
func selects(src source, line []byte) bool {
	name, _, ok := bytes.Cut(line, []byte(":"))
	if !ok {
		return src.not
	}
	n := strings.ToLower(string(bytes.TrimRight(name, " \t")))
	return slices.Contains(src.fields, n) != src.not
}

var errWindowFull = errors.New("window full")

// windowWriter passes on the bytes of a window of what is written to it.
type windowWriter struct {
	w          io.Writer
	skip, left int64
}

func (x *windowWriter) Write(p []byte) (int, error) {
	n := len(p)
	drop := min(x.skip, int64(len(p)))
	p, x.skip = p[drop:], x.skip-drop
	take := min(x.left, int64(len(p)))
	if take > 0 {
		if _, err := x.w.Write(p[:take]); err != nil {
			return 0, err
		}
		x.left -= take
	}
	if x.left == 0 {
		return n, errWindowFull
	}
	return n, nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// copyPartVerified writes the window of a section of the message stream
// r to w, holding back its last byte until the rest of the stream has been
// read and so checked against the catalog row: a section of a damaged
// message never arrives complete either.
func copyPartVerified(w io.Writer, r io.Reader, src source, win window) error {
	hw := &holdLast{w: w}
	if err := copySource(hw, r, src, win); err != nil {
		return err
	}
	if err := drain(r); err != nil {
		return err
	}
	return hw.flush()
}

// drain reads the rest of the message stream r, which checks the message
// against its catalog row at its end.
func drain(r io.Reader) error {
	buf := copyBuffers.Get().(*[64 << 10]byte)
	defer copyBuffers.Put(buf)
	_, err := io.CopyBuffer(io.Discard, r, buf[:])
	return err
}

// holdLast passes on every byte written to it but the last, which flush
// writes.
type holdLast struct {
	w    io.Writer
	last [1]byte
	held bool
}

func (h *holdLast) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if h.held {
		if _, err := h.w.Write(h.last[:]); err != nil {
			return 0, err
		}
	}
	if _, err := h.w.Write(p[:len(p)-1]); err != nil {
		return 0, err
	}
	h.last[0], h.held = p[len(p)-1], true
	return len(p), nil
}

func (h *holdLast) flush() error {
	if !h.held {
		return nil
	}
	h.held = false
	_, err := h.w.Write(h.last[:])
	return err
}
