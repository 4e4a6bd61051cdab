package serve

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/mailkeep/mailkeep/archive"
)

// FETCH. Every item of a message is found before its response begins:
// the structure (one pass over the stream, cached for a few messages),
// the sizes of the sections. Then the response streams each section from
// a fresh pass. A message that cannot be read is left out and named in
// the NO that ends the command; one whose stream breaks while its bytes
// are being sent ends the connection, since the response cannot be
// completed.

func (s *session) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, o *imap.FetchOptions) error {
	if len(o.BinarySection) > 0 || len(o.BinarySectionSize) > 0 {
		return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "BINARY is not supported"}
	}
	idx, err := s.sel.indices(numSet)
	if err != nil {
		return err
	}
	var failed []string
	for _, i := range idx {
		m := &s.sel.msgs[i]
		f, err := s.prepare(m, o)
		if err != nil {
			s.log.Error("fetch: message cannot be read", "uid", m.uid, "key", m.key, "err", err)
			failed = append(failed, fmt.Sprint(m.uid))
			continue
		}
		if err := s.send(w, uint32(i+1), m, o, f); err != nil {
			return err
		}
	}
	if len(failed) > 0 {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable,
			Text: "Damaged or missing in the archive (mailkeep verify tells more): UID " + strings.Join(failed, ",")}
	}
	return nil
}

// fetched is what a message's response needs, found before it begins,
// with the message's stream opened for the first section: a file that is
// missing shows before the response starts.
type fetched struct {
	root     *part
	envelope *imap.Envelope
	sections []fetchedSection
	stream   io.ReadCloser // for the first section that sends bytes; nil once used
}

type fetchedSection struct {
	src  source
	ok   bool // the part exists
	win  window
	size int64
}

func (s *session) prepare(m *message, o *imap.FetchOptions) (*fetched, error) {
	f := &fetched{}
	full := o.BodyStructure != nil || slices.ContainsFunc(o.BodySection, needsParts)
	if full || o.Envelope || slices.ContainsFunc(o.BodySection, needsHeader) {
		root, err := s.structure(m, full)
		if err != nil {
			return nil, err
		}
		f.root = root
	}
	if o.Envelope {
		f.envelope = envelope(f.root.header)
	}
	for _, item := range o.BodySection {
		fs, err := s.prepareSection(m, f.root, item)
		if err != nil {
			return nil, err
		}
		f.sections = append(f.sections, fs)
	}
	if slices.ContainsFunc(f.sections, func(fs fetchedSection) bool { return fs.ok && fs.win.n > 0 }) {
		rc, err := s.open(m)
		if err != nil {
			return nil, err
		}
		f.stream = rc
	}
	return f, nil
}

func (s *session) prepareSection(m *message, root *part, item *imap.FetchItemBodySection) (fetchedSection, error) {
	if root == nil {
		root = &part{end: m.size}
	}
	src, ok := sectionSource(root, item, m.size)
	fs := fetchedSection{src: src, ok: ok}
	if !ok {
		return fs, nil
	}
	fs.size = src.to - src.from
	if src.filtered {
		var err error
		if fs.size, err = s.withStream(m, func(r io.Reader) (int64, error) { return filteredSize(r, src) }); err != nil {
			return fs, err
		}
	}
	fs.win = partialWindow(item.Partial, fs.size)
	return fs, nil
}

// send writes one message's FETCH response.
func (s *session) send(w *imapserver.FetchWriter, seq uint32, m *message, o *imap.FetchOptions, f *fetched) error {
	defer func() {
		if f.stream != nil {
			f.stream.Close()
		}
	}()
	rw := w.CreateMessage(seq)
	if o.UID {
		rw.WriteUID(m.uid)
	}
	if o.Flags {
		rw.WriteFlags(m.flags)
	}
	if o.InternalDate {
		rw.WriteInternalDate(m.date)
	}
	if o.RFC822Size {
		rw.WriteRFC822Size(m.size)
	}
	if o.Envelope {
		rw.WriteEnvelope(f.envelope)
	}
	if o.BodyStructure != nil {
		rw.WriteBodyStructure(bodyStructure(f.root))
	}
	for i, item := range o.BodySection {
		if err := s.sendSection(rw, m, item, f.sections[i], f); err != nil {
			s.log.Error("fetch: the stream broke while sending; closing the connection", "uid", m.uid, "key", m.key, "err", err)
			s.conn.NetConn().Close()
			rw.Close()
			return err
		}
	}
	return rw.Close()
}

func (s *session) sendSection(rw *imapserver.FetchResponseWriter, m *message, item *imap.FetchItemBodySection,
	fs fetchedSection, f *fetched) error {
	wc := rw.WriteBodySection(item, fs.win.n)
	var err error
	if fs.ok && fs.win.n > 0 {
		rc := f.stream
		f.stream = nil
		if rc == nil {
			rc, err = s.open(m)
		}
		if err == nil {
			if fs.src.whole && fs.win.n == m.size {
				err = archive.CopyVerified(wc, rc, m.size)
			} else {
				err = copyPartVerified(wc, rc, fs.src, fs.win)
			}
			rc.Close()
		}
	}
	return errors.Join(err, wc.Close())
}

// open opens the message's verified stream.
func (s *session) open(m *message) (io.ReadCloser, error) {
	f, err := s.folder(m.folder)
	if err != nil {
		return nil, err
	}
	return f.OpenMessage(m.row())
}

// withStream opens the message's verified stream for fn.
func (s *session) withStream(m *message, fn func(io.Reader) (int64, error)) (int64, error) {
	rc, err := s.open(m)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return fn(rc)
}

// structure returns the message's structure: all of it, or at least its
// root header. Structures of the last few messages are kept.
func (s *session) structure(m *message, full bool) (*part, error) {
	if root, ok := s.parts.get(m.id, full); ok {
		return root, nil
	}
	var root *part
	_, err := s.withStream(m, func(r io.Reader) (int64, error) {
		var err error
		if full {
			root, err = parseStructure(r)
		} else if root, err = parseHeader(r, m.size); err == nil {
			err = drain(r) // an envelope only from a message that checks out
		}
		return 0, err
	})
	if err != nil {
		return nil, err
	}
	s.parts.put(m.id, root, full)
	return root, nil
}

// parseHeader reads only a message's root header.
func parseHeader(r io.Reader, size int64) (*part, error) {
	p := &parser{r: newReader(r), keep: bodyKeep}
	root := &part{end: size}
	if _, err := p.header(root); err != nil {
		return nil, err
	}
	return root, nil
}

// partCache keeps the structures of the last messages a session fetched:
// clients ask for BODYSTRUCTURE, then for parts, message by message.
type partCache struct {
	entries [8]cachedParts
	next    int
}

type cachedParts struct {
	id   int64
	root *part
	full bool
}

func (c *partCache) get(id int64, full bool) (*part, bool) {
	for _, e := range c.entries {
		if e.root != nil && e.id == id && (e.full || !full) {
			return e.root, true
		}
	}
	return nil, false
}

func (c *partCache) put(id int64, root *part, full bool) {
	c.entries[c.next] = cachedParts{id: id, root: root, full: full}
	c.next = (c.next + 1) % len(c.entries)
}

// indices returns the positions of the messages a sequence or UID set
// names, ascending, each once. "*" is the last message.
func (v *view) indices(set imap.NumSet) ([]int, error) {
	var spans [][2]int // [lo, hi) of positions
	switch set := set.(type) {
	case imap.SeqSet:
		n := uint32(len(v.msgs))
		for _, r := range set {
			lo, hi := star(r.Start, n), star(r.Stop, n)
			if lo > hi {
				lo, hi = hi, lo
			}
			if lo >= 1 && lo <= n {
				spans = append(spans, [2]int{int(lo) - 1, int(min(hi, n))})
			}
		}
	case imap.UIDSet:
		if imap.IsSearchRes(set) {
			return nil, &imap.Error{Type: imap.StatusResponseTypeBad, Text: "SEARCHRES is not supported"}
		}
		var last imap.UID
		if len(v.msgs) > 0 {
			last = v.msgs[len(v.msgs)-1].uid
		}
		for _, r := range set {
			lo, hi := imap.UID(star(uint32(r.Start), uint32(last))), imap.UID(star(uint32(r.Stop), uint32(last)))
			if lo > hi {
				lo, hi = hi, lo
			}
			i := sort.Search(len(v.msgs), func(i int) bool { return v.msgs[i].uid >= lo })
			j := sort.Search(len(v.msgs), func(i int) bool { return v.msgs[i].uid > hi })
			if i < j {
				spans = append(spans, [2]int{i, j})
			}
		}
	}
	return expand(spans), nil
}

// star is n for the "*" of a set (0), else v.
func star(v, n uint32) uint32 {
	if v == 0 {
		return n
	}
	return v
}

func expand(spans [][2]int) []int {
	slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
	var out []int
	next := 0
	for _, sp := range spans {
		for i := max(sp[0], next); i < sp[1]; i++ {
			out = append(out, i)
		}
		next = max(next, sp[1])
	}
	return out
}
