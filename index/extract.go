package index

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// Limits of the extractor: what one message may cost, whatever it holds.
const (
	// MaxText is the most body text kept per message, in bytes.
	MaxText = 1 << 20
	// MaxParts is the most MIME parts walked per message.
	MaxParts   = 1000
	maxDepth   = 16        // multipart and message/rfc822 nesting
	maxHeader  = 256 << 10 // header bytes read before giving up on the header
	maxField   = 16 << 10  // bytes kept of a decoded header field
	maxNames   = 256       // attachment names kept
	maxName    = 512       // bytes kept of one attachment name
	maxNotes   = 4         // decoding problems noted per message
	maxNoteLen = 200
)

// MessageInfo is what the catalog records of a message: its row id in
// catalog.db, its folder's name and key (which make its handle), its size
// and its INTERNALDATE.
type MessageInfo struct {
	ID     int64
	Folder string
	Key    string
	Size   int64
	Date   time.Time
}

// Doc is one message as the index holds it: its catalog facts and the text
// extracted from it.
type Doc struct {
	MessageInfo
	From, To, Cc, Subject string // decoded display strings
	MessageID             string
	Attachments           []string // decoded file names
	Body                  string   // text of the text and HTML parts, at most MaxText bytes
	// Undecodable says what could not be decoded ("" when all was); such a
	// message is still indexed with whatever did decode.
	Undecodable string
}

// Extract reads a message and returns its decoded headers, body text and
// attachment names. It never holds more than MaxText bytes of text and one
// buffered HTML token; other parts are skipped as they stream past. When
// part of the message cannot be decoded, the Doc still holds what could be,
// Doc.Undecodable says what went wrong, and the same is returned as an
// error: the Doc is meant to be indexed either way.
func Extract(r io.Reader) (Doc, error) {
	x := &extractor{text: textBuf{max: MaxText}}
	x.message(r)
	x.doc.Body = x.text.String()
	if len(x.notes) == 0 {
		return x.doc, nil
	}
	x.doc.Undecodable = strings.Join(x.notes, "; ")
	return x.doc, errors.New(x.doc.Undecodable)
}

type extractor struct {
	doc   Doc
	text  textBuf
	notes []string
	parts int
	stop  bool
}

func (x *extractor) note(format string, args ...any) {
	if len(x.notes) < maxNotes {
		note := strings.Join(strings.Fields(validUTF8(fmt.Sprintf(format, args...))), " ")
		x.notes = append(x.notes, clip(note, maxNoteLen))
	}
}

// message reads the top-level header and walks the body.
func (x *extractor) message(r io.Reader) {
	h, body, err := readHeader(r)
	x.headers(mail.Header{Header: message.Header{Header: h}})
	if err != nil {
		x.note("header: %v", err)
		if body != nil {
			x.copyText(body, "")
		}
		return
	}
	x.body(h, body, 0)
}

// readHeader parses a header. When it does not parse, the fields read so
// far are returned with a reader of the whole input, to be searched as
// plain text; a header longer than maxHeader gives no body at all.
func readHeader(r io.Reader) (textproto.Header, io.Reader, error) {
	lim := &limitReader{r: r, n: maxHeader}
	head := &capture{}
	br := bufio.NewReader(io.TeeReader(lim, head))
	h, err := textproto.ReadHeader(br)
	head.done = true
	switch {
	case lim.n == 0: // the header took (about) maxHeader bytes
		return h, nil, errHeaderTooLong
	case err != nil && !errors.Is(err, io.EOF): // a message may end with its header
		return h, io.MultiReader(&head.buf, r), err
	}
	lim.n = -1
	return h, br, nil
}

// capture keeps what is read until done is set.
type capture struct {
	buf  bytes.Buffer
	done bool
}

func (c *capture) Write(p []byte) (int, error) {
	if !c.done {
		c.buf.Write(p)
	}
	return len(p), nil
}

var errHeaderTooLong = fmt.Errorf("longer than %d bytes", maxHeader)

// limitReader reads at most n bytes (no limit when n < 0).
type limitReader struct {
	r io.Reader
	n int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n == 0 {
		return 0, io.EOF
	}
	if l.n > 0 && int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	if l.n > 0 {
		l.n -= int64(n)
	}
	return n, err
}

func (x *extractor) headers(h mail.Header) {
	x.doc.From = addresses(h, "From")
	x.doc.To = addresses(h, "To")
	x.doc.Cc = addresses(h, "Cc")
	x.doc.Subject = headerText(h, "Subject")
	x.doc.MessageID = clip(strings.TrimSpace(validUTF8(h.Get("Message-Id"))), maxField)
}

// addresses returns an address field as "Name <addr>, …", or its decoded
// text when it does not parse as addresses.
func addresses(h mail.Header, key string) string {
	list, err := h.AddressList(key)
	if err != nil || len(list) == 0 {
		return headerText(h, key)
	}
	parts := make([]string, len(list))
	for i, a := range list {
		if a.Name == "" {
			parts[i] = a.Address
		} else {
			parts[i] = a.Name + " <" + a.Address + ">"
		}
	}
	return clip(fix8bit(strings.Join(parts, ", ")), maxField)
}

// headerText decodes RFC 2047 words; a field that does not decode is kept
// as it is.
func headerText(h mail.Header, key string) string {
	s, err := h.Text(key)
	if err != nil {
		s = h.Get(key)
	}
	return clip(fix8bit(strings.TrimSpace(s)), maxField)
}

// fix8bit reads text that is not UTF-8 as Windows-1252, the most common
// charset of undeclared 8-bit mail.
func fix8bit(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	r, err := charset.Reader("windows-1252", strings.NewReader(s))
	if err != nil {
		return validUTF8(s)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return validUTF8(s)
	}
	return validUTF8(string(b))
}

// clip cuts s to at most n bytes, between characters.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// body decodes an entity's body by its header and walks it.
func (x *extractor) body(h textproto.Header, body io.Reader, depth int) {
	e, err := message.New(message.Header{Header: h}, body)
	if err != nil {
		x.note("%v", err)
	}
	x.entity(e, depth)
}

func (x *extractor) entity(e *message.Entity, depth int) {
	if x.parts++; x.parts > MaxParts {
		x.note("more than %d parts", MaxParts)
		x.stop = true
		return
	}
	mt, params := mediaType(e.Header)
	disp, dparams, _ := e.Header.ContentDisposition()
	if name := attachmentName(e.Header, params, dparams); name != "" {
		x.addAttachment(name)
	}
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		x.multipart(e, mt == "multipart/alternative", depth)
	case mt == "message/rfc822" || mt == "message/global":
		x.nested(e.Body, depth)
	case strings.EqualFold(disp, "attachment"):
		// Named above; its content is not searched.
	case mt == "text/html":
		x.html(e.Body)
	case mt == "" || strings.HasPrefix(mt, "text/"):
		x.copyText(e.Body, params["charset"])
	}
}

// mediaType returns the lowercase media type, also when its parameters do
// not parse.
func mediaType(h message.Header) (string, map[string]string) {
	mt, params, err := h.ContentType()
	if err != nil {
		mt, _, _ = strings.Cut(h.Get("Content-Type"), ";")
	}
	return strings.ToLower(strings.TrimSpace(mt)), params
}

func (x *extractor) addAttachment(name string) {
	if len(x.doc.Attachments) < maxNames {
		x.doc.Attachments = append(x.doc.Attachments, clip(fix8bit(name), maxName))
	}
}

func (x *extractor) multipart(e *message.Entity, alternative bool, depth int) {
	if depth >= maxDepth {
		x.note("parts nested deeper than %d", maxDepth)
		return
	}
	mr := e.MultipartReader()
	if mr == nil { // the Content-Type header does not parse
		x.note("unreadable multipart header")
		return
	}
	start := x.text.b.Len()
	for !x.stop {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			x.note("%v", err)
			if p == nil {
				return
			}
		}
		if alternative && x.text.b.Len() > start {
			continue // one rendering of the text is enough; NextPart skips it
		}
		x.entity(p, depth+1)
	}
}

// nested indexes an attached message: its sender and subject become text,
// its parts are walked like the message's own.
func (x *extractor) nested(r io.Reader, depth int) {
	if depth >= maxDepth {
		x.note("messages nested deeper than %d", maxDepth)
		return
	}
	h, body, err := readHeader(r)
	mh := mail.Header{Header: message.Header{Header: h}}
	x.text.sep()
	fmt.Fprintf(&x.text, "%s\n%s\n", addresses(mh, "From"), headerText(mh, "Subject"))
	if err != nil {
		x.note("attached message header: %v", err)
		return
	}
	x.body(h, body, depth+1)
}

// copyText adds a text part. Text declared in no charset that is not
// UTF-8 is read as Windows-1252.
func (x *extractor) copyText(r io.Reader, declared string) {
	if x.text.full() {
		return
	}
	x.text.sep()
	if declared != "" {
		x.copy(r)
		return
	}
	var part textBuf
	part.max = x.text.max - x.text.b.Len()
	x.copy2(&part, r)
	io.WriteString(&x.text, fix8bit(part.b.String()))
}

func (x *extractor) copy(r io.Reader) { x.copy2(&x.text, r) }

func (x *extractor) copy2(dst *textBuf, r io.Reader) {
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	if _, err := io.CopyBuffer(dst, r, *buf); err != nil && !errors.Is(err, errTextFull) {
		x.note("text: %v", err)
	}
}

// copyBufs are copy2's buffers: io.Copy would allocate 32 KiB for every
// text part of every message.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (x *extractor) html(r io.Reader) {
	if x.text.full() {
		return
	}
	x.text.sep()
	if err := htmlText(&x.text, r); err != nil && !errors.Is(err, errTextFull) {
		x.note("html: %v", err)
	}
}
