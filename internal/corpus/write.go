package corpus

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
)

// writer assembles a message. Every line it writes ends in CRLF.
type writer struct {
	bytes.Buffer
}

func (w *writer) header(name, value string) {
	w.WriteString(name)
	w.WriteString(": ")
	w.WriteString(value)
	w.WriteString("\r\n")
}

func (w *writer) line(s string) {
	w.WriteString(s)
	w.WriteString("\r\n")
}

// part starts a MIME body part after a boundary.
func (w *writer) part(boundary, contentType, encoding string) {
	w.line("--" + boundary)
	w.header("Content-Type", contentType)
	w.header("Content-Transfer-Encoding", encoding)
	w.line("")
}

func (w *writer) end(boundary string) {
	w.line("--" + boundary + "--")
}

// textMode says how text is written: plain ASCII, raw UTF-8, or UTF-8
// quoted-printable.
type textMode int

const (
	asciiText textMode = iota
	utf8Text
	qpText
)

// text writes about size bytes of paragraphs of words in lines of at most
// 76 bytes with CRLF ends. In qpText mode the line limit applies to the
// encoded words, so no soft line breaks are needed.
func (w *writer) text(r *rand.Rand, size int, mode textMode) {
	start := w.Len()
	lineLen, paraLeft := 0, 20+r.IntN(60)
	for w.Len()-start < size {
		word := pickWord(r, mode)
		if lineLen > 0 && lineLen+1+len(word) > 76 {
			w.WriteString("\r\n")
			lineLen = 0
			if paraLeft--; paraLeft <= 0 {
				w.WriteString("\r\n")
				paraLeft = 3 + r.IntN(8)
			}
		}
		if lineLen > 0 {
			w.WriteByte(' ')
			lineLen++
		}
		w.WriteString(word)
		lineLen += len(word)
	}
	w.WriteString("\r\n")
}

// html writes the paragraphs of text (as written by text) as an HTML
// document, keeping its lines and so their encoding.
func (w *writer) html(text []byte) {
	w.WriteString("<!DOCTYPE html>\r\n<html><head><meta charset=\"utf-8\"></head>\r\n<body>\r\n")
	for para := range bytes.SplitSeq(bytes.TrimSuffix(text, []byte("\r\n")), []byte("\r\n\r\n")) {
		w.WriteString("<p>\r\n")
		w.Write(para)
		w.WriteString("\r\n</p>\r\n")
	}
	w.WriteString("</body></html>\r\n")
}

// base64 writes data base64 encoded in lines of 76 characters (57 bytes).
func (w *writer) base64(data []byte) {
	w.Grow(len(data)/57*78 + 80)
	buf := w.AvailableBuffer()
	for len(data) > 0 {
		n := min(57, len(data))
		buf = base64.StdEncoding.AppendEncode(buf, data[:n])
		buf = append(buf, '\r', '\n')
		data = data[n:]
	}
	w.Write(buf)
}

// randomBase64 writes n bytes of incompressible data, like a photo or an
// archive (NULs included), base64 encoded.
func (w *writer) randomBase64(r *rand.Rand, n int) {
	src := chacha(r)
	var chunk [57 * 64]byte
	w.Grow(n/57*78 + 80)
	for n > 0 {
		c := chunk[:min(n, len(chunk))]
		src.Read(c)
		w.base64(c)
		n -= len(c)
	}
}

// chacha returns a fast byte source seeded from r.
func chacha(r *rand.Rand) *rand.ChaCha8 {
	var seed [32]byte
	for i := 0; i < len(seed); i += 8 {
		binary.LittleEndian.PutUint64(seed[i:], r.Uint64())
	}
	return rand.NewChaCha8(seed)
}

// pickWord returns a random word; one in eight is non-ASCII unless mode is
// asciiText.
func pickWord(r *rand.Rand, mode textMode) string {
	if mode == asciiText || r.IntN(8) != 0 {
		return words[r.IntN(len(words))]
	}
	i := r.IntN(len(intlWords))
	if mode == qpText {
		return intlWordsQP[i]
	}
	return intlWords[i]
}

var words = strings.Fields(`the backup of all mail runs every night and keeps each message
exactly as the server sent it with flags keywords and dates so that a restore puts
everything back where it was project meeting agenda minutes report budget quarter
invoice contract draft review please find attached see below thanks regards best
tomorrow today next week monday friday deadline update status question answer team
server folder archive message attachment photo document schedule travel hotel
flight train ticket customer order delivery payment reminder call note idea plan
release version test build deploy bug fix feature request design data storage disk
compression index catalog snapshot verify repair restore account password login
network connection timeout retry error warning success done open closed pending`)

var intlWords = strings.Fields(`Grüße Straße Müller Köln über schön Entwürfe Bericht
Ärger fünf München café naïve déjà façade Zürich Отчёт привет почта письмо 東京 メール
日本語 中文 한국어 Ελληνικά ünïcödé`)

// intlWordsQP are intlWords quoted-printable encoded.
var intlWordsQP = func() []string {
	qp := make([]string, len(intlWords))
	for i, word := range intlWords {
		for _, c := range []byte(word) {
			if c < 0x80 && c != '=' {
				qp[i] += string(rune(c))
			} else {
				qp[i] += fmt.Sprintf("=%02X", c)
			}
		}
	}
	return qp
}()
