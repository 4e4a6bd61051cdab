package archive

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"time"
)

// ErrSource marks a failure to read a message from its source (the server
// connection), as opposed to a failure to write the archive.
var ErrSource = errors.New("reading from the server failed")

type sourceReader struct{ r io.Reader }

func (s sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%w: %w", ErrSource, err)
	}
	return n, err
}

// headLimit bounds how much of a message's header is kept for metadata.
const headLimit = 64 << 10

// Spool streams messages into a folder's tmp/ directory: it hashes, counts,
// compresses and, in an encrypted archive, encrypts on the way, with memory
// bounded by the encoder's window, whatever the message size. One Spool
// serves one goroutine, and may write to folders of any archive.
type Spool struct {
	enc  *encoder
	bw   *bufio.Writer
	buf  []byte // io.Copy's, reused: a new 32 KiB per message adds up
	sum  hash.Hash
	cnt  counter
	head headCapture
	hr   *bytes.Reader // the header parser's input, reused
	br   *bufio.Reader
}

// NewSpool returns a Spool compressing at the named level
// ("fastest", "default" or "better"; "" means fastest).
func NewSpool(level string) (*Spool, error) {
	enc, err := newEncoder(level)
	if err != nil {
		return nil, err
	}
	hr := bytes.NewReader(nil)
	return &Spool{enc: enc, bw: bufio.NewWriterSize(nil, 64<<10), buf: make([]byte, 32<<10), sum: sha256.New(),
		hr: hr, br: bufio.NewReader(hr)}, nil
}

// Staged is a message written to tmp/, not yet durable nor published.
type Staged struct {
	Folder    *Folder
	Key       string // set by Batch.Add
	Size      int64  // bytes as the server sent them
	VSize     int64  // size with every line ending as CRLF
	SHA256    [32]byte
	MessageID string
	// FileSHA256 is the SHA-256 of the file as stored, in an encrypted
	// archive (zero in a plain one): what checks the file without the
	// identity.
	FileSHA256 [32]byte
	// Linked: the file is a hard link to content the archive holds
	// (StageLink); DiskSize is then the size of that content's file.
	Linked   bool
	DiskSize int64
	tmp      string
	file     *os.File
	header   mail.Header // parsed from the start of the message; nil if it does not parse
}

// Write streams r into a new temp file of folder f. The caller publishes
// it through a Batch or calls Discard.
func (s *Spool) Write(f *Folder, r io.Reader) (*Staged, error) {
	tmp := filepath.Join(f.Dir, "tmp", randHex()+".tmp")
	file, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.perm.file)
	if err != nil {
		return nil, fmt.Errorf("create temp file: %w", err)
	}
	st := &Staged{Folder: f, tmp: tmp, file: file}
	head, stored, err := s.copy(file, r, f.codec)
	if err != nil {
		st.Discard()
		return nil, err
	}
	st.FileSHA256 = stored
	st.Size, st.VSize = s.cnt.n, s.cnt.n+s.cnt.bareLF
	s.sum.Sum(st.SHA256[:0])
	st.header = s.parseHeader(head)
	st.MessageID = st.header.Get("Message-Id")
	return st, nil
}

// parseHeader parses the header at the start of a message through the
// Spool's reader, as MessageID does.
func (s *Spool) parseHeader(head []byte) mail.Header {
	s.hr.Reset(headerBytes(head))
	s.br.Reset(s.hr)
	m, err := mail.ReadMessage(s.br)
	if err != nil {
		return nil
	}
	return m.Header
}

// HeaderDate returns the message's Date header, or false when it has none
// or it does not parse.
func (st *Staged) HeaderDate() (time.Time, bool) {
	if st.header == nil {
		return time.Time{}, false
	}
	d, err := st.header.Date()
	return d, err == nil
}

// copy writes one file of an archive framed as c. It returns the start of
// the message (for metadata), in a buffer the next copy reuses, and the
// SHA-256 of the file as stored (zero in a plain archive).
func (s *Spool) copy(file *os.File, r io.Reader, c *codec) (head []byte, stored [32]byte, err error) {
	s.bw.Reset(file)
	if err := s.enc.begin(s.bw, c); err != nil {
		return nil, stored, err
	}
	s.sum.Reset()
	s.cnt = counter{}
	hc := &s.head
	hc.buf, hc.done = hc.buf[:0], false
	w := io.MultiWriter(s.enc, s.sum, &s.cnt, hc)
	if _, err := io.CopyBuffer(w, sourceReader{r}, s.buf); err != nil {
		s.enc.abandon()
		return nil, stored, fmt.Errorf("read message: %w", err)
	}
	if stored, err = s.enc.end(); err != nil {
		return nil, stored, err
	}
	if err := s.bw.Flush(); err != nil {
		return nil, stored, fmt.Errorf("write temp file: %w", err)
	}
	return hc.buf, stored, nil
}

// Discard closes and removes the temp file.
func (st *Staged) Discard() {
	if st.file != nil {
		st.file.Close()
		st.file = nil
	}
	os.Remove(st.tmp)
}

// counter counts bytes and bare LFs (LF not preceded by CR), for Dovecot's W=.
type counter struct {
	n, bareLF int64
	prevCR    bool
}

func (c *counter) Write(p []byte) (int, error) {
	for off := 0; ; {
		i := bytes.IndexByte(p[off:], '\n')
		if i < 0 {
			break
		}
		at := off + i
		if at > 0 && p[at-1] != '\r' || at == 0 && !c.prevCR {
			c.bareLF++
		}
		off = at + 1
	}
	if len(p) > 0 {
		c.prevCR = p[len(p)-1] == '\r'
	}
	c.n += int64(len(p))
	return len(p), nil
}

// headCapture keeps the start of a message up to the end of its header
// (the first empty line), at most headLimit bytes, and nothing after it.
type headCapture struct {
	buf  []byte
	done bool
}

func (h *headCapture) Write(p []byte) (int, error) {
	if h.done {
		return len(p), nil
	}
	take := p[:min(len(p), headLimit-len(h.buf))]
	// An end that begins in what was kept already: at most its last three
	// bytes with the first three of p.
	var edge [6]byte
	kept := copy(edge[:], h.buf[max(len(h.buf)-3, 0):])
	e := headerEnd(edge[:kept+copy(edge[kept:], take)])
	if e > kept {
		take = take[:e-kept]
	} else if e = headerEnd(take); e >= 0 {
		take = take[:e]
	}
	h.buf = append(h.buf, take...)
	h.done = e >= 0 || len(h.buf) >= headLimit
	return len(p), nil
}

// headerEnd returns the length of b up to the end of the first "\r\n\r\n"
// or "\n\n" in it, or -1.
func headerEnd(b []byte) int {
	i, j := bytes.Index(b, []byte("\r\n\r\n")), bytes.Index(b, []byte("\n\n"))
	switch {
	case i >= 0 && (j < 0 || i+2 < j):
		return i + 4
	case j >= 0:
		return j + 2
	}
	return -1
}

// headerBytes cuts a message's start after its header, or ends the header
// when the start holds no empty line.
func headerBytes(head []byte) []byte {
	if i := bytes.Index(head, []byte("\r\n\r\n")); i >= 0 {
		return head[:i+4]
	} else if i := bytes.Index(head, []byte("\n\n")); i >= 0 {
		return head[:i+2]
	}
	return append(bytes.Clone(head), "\r\n\r\n"...)
}

// MessageID returns the Message-ID header of a message's header bytes,
// or "" when it has none or the header does not parse.
func MessageID(head []byte) string {
	m, err := mail.ReadMessage(bytes.NewReader(headerBytes(head)))
	if err != nil {
		return ""
	}
	return m.Header.Get("Message-Id")
}

func randHex() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ErrClosed is returned when a Batch is used after Commit or Abort.
var ErrClosed = errors.New("batch already finished")
