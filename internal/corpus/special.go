package corpus

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// special describes one message that every corpus holds in INBOX.
type special struct {
	subject  string
	flags    []string
	body     func(w *writer, r *rand.Rand) // writes the rest after the envelope
	noID     bool                          // no Message-ID header
	sharedID bool                          // Message-ID shared with another special
}

var specials = []special{
	{subject: "Lines that begin with dots", flags: []string{`\Seen`}, body: dotLines},
	{subject: "A line of 10,000 bytes", flags: []string{`\Flagged`, "Projekt-X"}, body: longLine},
	{subject: "Binary attachment", flags: []string{"$Label1", `\Seen`}, body: binaryAttachment},
	{subject: "Raw 8-bit body", body: eightBitBody},
	{subject: "No Message-ID", flags: []string{`\Seen`}, body: shortText, noID: true},
	{subject: "First of two with one Message-ID", flags: []string{`\Seen`}, body: shortText, sharedID: true},
	{subject: "Second of two with one Message-ID", flags: []string{`\Answered`, `\Seen`}, body: otherShortText, sharedID: true},
	{subject: "Headers only, no body separator", flags: []string{`\Flagged`}},
	{subject: "No line end after the last line", flags: []string{`\Seen`}, body: noFinalNewline},
}

// specials returns the special messages, then the one with raw UTF-8 in
// its headers.
func (g *generator) specials() []Message {
	msgs := make([]Message, 0, len(specials)+1)
	for i, s := range specials {
		r := g.rand(specialBase + uint64(i))
		date := randomDate(r)
		w := &writer{}
		g.specialEnvelope(w, s, date)
		if s.body != nil {
			s.body(w, r)
		}
		msgs = append(msgs, g.inInbox(w, s.flags, date))
	}
	return append(msgs, g.eightBitHeader())
}

func (g *generator) inInbox(w *writer, flags []string, date time.Time) Message {
	flags = slices.Clone(flags)
	slices.Sort(flags)
	return Message{Folder: "INBOX", Raw: w.Bytes(), Flags: flags, Date: date, folders: g.folders}
}

func (g *generator) specialEnvelope(w *writer, s special, date time.Time) {
	w.header("Date", date.Format(time.RFC1123Z))
	w.header("From", "Corpus Generator <corpus@example.org>")
	w.header("To", "alice@example.org")
	w.header("Subject", s.subject)
	switch {
	case s.sharedID:
		w.header("Message-ID", fmt.Sprintf("<shared.%x@corpus.mailkeep.test>", g.seed))
	case !s.noID:
		w.header("Message-ID", fmt.Sprintf("<special.%x.%s@corpus.mailkeep.test>",
			g.seed, strings.ReplaceAll(strings.ToLower(s.subject), " ", "-")))
	}
}

// dotLines ends with a line that is a lone dot, POP3's end marker.
func dotLines(w *writer, _ *rand.Rand) {
	w.header("Content-Type", "text/plain; charset=us-ascii")
	w.line("")
	for _, l := range []string{
		"The lines below begin with dots; POP3 must stuff and unstuff them.",
		".", "..", "...", ".leading dot", "..two leading dots", ". dot and space",
		"", "a line in between", ".",
	} {
		w.line(l)
	}
}

func longLine(w *writer, _ *rand.Rand) {
	w.header("Content-Type", "text/plain; charset=us-ascii")
	w.line("")
	w.line("One line of exactly 10,000 bytes (without its CRLF) follows.")
	line := strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz-", 10000/37+1)[:10000]
	w.line(line)
	w.line("end")
}

// binaryAttachment carries every byte value, NULs included, base64 encoded.
func binaryAttachment(w *writer, r *rand.Rand) {
	const boundary = "=_bin_boundary"
	w.header("MIME-Version", "1.0")
	w.header("Content-Type", `multipart/mixed; boundary="`+boundary+`"`)
	w.line("")
	w.part(boundary, "text/plain; charset=us-ascii", "7bit")
	w.line("The attachment holds every byte value, then random bytes.")
	w.line("--" + boundary)
	w.header("Content-Type", `application/octet-stream; name="blob.bin"`)
	w.header("Content-Disposition", `attachment; filename="blob.bin"`)
	w.header("Content-Transfer-Encoding", "base64")
	w.line("")
	data := make([]byte, 256+40000)
	for i := range 256 {
		data[i] = byte(i)
	}
	chacha(r).Read(data[256:])
	w.base64(data)
	w.end(boundary)
}

// eightBitBody is ISO-8859-1 text with every byte from 0x80 to 0xff, sent
// unencoded.
func eightBitBody(w *writer, _ *rand.Rand) {
	w.header("MIME-Version", "1.0")
	w.header("Content-Type", "text/plain; charset=iso-8859-1")
	w.header("Content-Transfer-Encoding", "8bit")
	w.line("")
	w.line("Gr\xfc\xdfe aus K\xf6ln, \xe0 bient\xf4t.")
	for row := 0x80; row < 0x100; row += 32 {
		var b strings.Builder
		for c := row; c < row+32; c++ {
			b.WriteByte(byte(c))
		}
		w.line(b.String())
	}
}

func shortText(w *writer, _ *rand.Rand) {
	w.line("")
	w.line("A short message.")
}

func otherShortText(w *writer, _ *rand.Rand) {
	w.line("")
	w.line("Another short message, with the same Message-ID as the first.")
}

func noFinalNewline(w *writer, _ *rand.Rand) {
	w.line("")
	w.line("The next line has no CRLF after it.")
	w.WriteString("the end")
}

// eightBitHeader has raw UTF-8 in its headers, as some mailers send.
func (g *generator) eightBitHeader() Message {
	r := g.rand(specialBase + uint64(len(specials)))
	date := randomDate(r)
	w := &writer{}
	w.header("Date", date.Format(time.RFC1123Z))
	w.header("From", "Jürgen Müller <juergen@example.de>")
	w.header("To", "Zoë Åberg <zoe@example.org>")
	w.header("Subject", "Grüße aus Köln – отчёт за март 📎")
	w.header("Message-ID", fmt.Sprintf("<special.%x.utf8-header@corpus.mailkeep.test>", g.seed))
	w.header("MIME-Version", "1.0")
	w.header("Content-Type", "text/plain; charset=utf-8")
	w.header("Content-Transfer-Encoding", "8bit")
	w.line("")
	w.line("Die Kopfzeilen enthalten UTF-8 ohne Kodierung.")
	return g.inInbox(w, []string{"$Forwarded", `\Answered`, `\Seen`}, date)
}
