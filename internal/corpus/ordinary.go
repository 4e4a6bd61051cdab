package corpus

import (
	"fmt"
	"math/rand/v2"
	"mime"
	"path"
	"slices"
	"strings"
	"time"
)

// ordinary returns ordinary message number n: 1–20 KB of text, as plain
// text (about half) or text+HTML, and one in ten with a 50–300 KB
// attachment.
func (g *generator) ordinary(n int) Message {
	r := g.rand(uint64(n))
	folder := g.filled[pickFolder(r, len(g.filled))]
	date := randomDate(r)
	kind, size := r.IntN(100), 1<<10+r.IntN(19<<10)
	w := &writer{}
	switch {
	case kind < 10:
		size = 50<<10 + r.IntN(250<<10)
		w.Grow(size*78/57 + 4<<10)
		g.envelope(w, r, n, date)
		withAttachment(w, r, n, size)
	case kind < 50:
		w.Grow(size + 2<<10)
		g.envelope(w, r, n, date)
		alternative(w, r, n, size/2)
	default:
		w.Grow(size + 2<<10)
		g.envelope(w, r, n, date)
		plain(w, r, size)
	}
	return Message{Folder: folder, Raw: w.Bytes(), Flags: randomFlags(r, folder), Date: date, folders: g.folders}
}

// pickFolder favours the first folder (usually INBOX) three to one.
func pickFolder(r *rand.Rand, n int) int {
	i := r.IntN(n + 2)
	if i >= n {
		return 0
	}
	return i
}

// envelope writes the usual top-level headers of message n.
func (g *generator) envelope(w *writer, r *rand.Rand, n int, date time.Time) {
	sent := date.Add(-time.Duration(1+r.IntN(600)) * time.Second)
	w.header("Date", sent.Format(time.RFC1123Z))
	w.header("From", randomAddress(r))
	w.header("To", randomAddress(r))
	if r.IntN(4) == 0 {
		w.header("Cc", randomAddress(r)+", "+randomAddress(r))
	}
	w.header("Subject", randomSubject(r))
	w.header("Message-ID", g.messageID(n))
	if n > 0 && r.IntN(5) == 0 {
		w.header("In-Reply-To", g.messageID(r.IntN(n)))
	}
	w.header("MIME-Version", "1.0")
}

func (g *generator) messageID(n int) string {
	return fmt.Sprintf("<%x.%d@corpus.mailkeep.test>", g.seed, n)
}

// plain writes a text/plain body of size bytes as 7bit ASCII, 8bit UTF-8
// or quoted-printable UTF-8.
func plain(w *writer, r *rand.Rand, size int) {
	mode := textMode(r.IntN(3))
	w.header("Content-Type", []string{"text/plain; charset=us-ascii", "text/plain; charset=utf-8",
		"text/plain; charset=utf-8"}[mode])
	w.header("Content-Transfer-Encoding", []string{"7bit", "8bit", "quoted-printable"}[mode])
	w.line("")
	w.text(r, size, mode)
}

// alternative writes a multipart/alternative body: text of size bytes and
// the same as HTML, both quoted-printable.
func alternative(w *writer, r *rand.Rand, n, size int) {
	boundary := fmt.Sprintf("=_alt_%d", n)
	w.header("Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	w.line("")
	w.line("This is a multi-part message in MIME format.")
	w.part(boundary, "text/plain; charset=utf-8", "quoted-printable")
	start := w.Len()
	w.text(r, size, qpText)
	text := w.Bytes()[start:]
	w.part(boundary, "text/html; charset=utf-8", "quoted-printable")
	w.html(text)
	w.end(boundary)
}

// withAttachment writes a multipart/mixed body: a short text and an
// attachment of size random bytes.
func withAttachment(w *writer, r *rand.Rand, n, size int) {
	boundary := fmt.Sprintf("=_mix_%d", n)
	w.header("Content-Type", `multipart/mixed; boundary="`+boundary+`"`)
	w.line("")
	w.part(boundary, "text/plain; charset=utf-8", "8bit")
	w.text(r, 256+r.IntN(2<<10), utf8Text)
	a := attachments[r.IntN(len(attachments))]
	w.line("--" + boundary)
	w.header("Content-Type", a.typ+`; name="`+a.name+`"`)
	w.header("Content-Disposition", `attachment; filename="`+a.name+`"`)
	w.header("Content-Transfer-Encoding", "base64")
	w.line("")
	w.randomBase64(r, size)
	w.end(boundary)
}

var attachments = []struct{ typ, name string }{
	{"image/jpeg", "IMG_2041.jpg"},
	{"application/pdf", "Rechnung-2024-03.pdf"},
	{"application/zip", "backup-logs.zip"},
	{"application/octet-stream", "data.bin"},
}

// randomDate returns a whole-second instant between 2015 and 2025 in one of
// a few zones, mostly not UTC.
func randomDate(r *rand.Rand) time.Time {
	const from, to = 1420070400, 1735689600 // 2015-01-01, 2025-01-01 UTC
	return time.Unix(from+r.Int64N(to-from), 0).In(zones[r.IntN(len(zones))])
}

var zones = []*time.Location{
	time.UTC,
	time.FixedZone("", 1*3600),
	time.FixedZone("", 2*3600),
	time.FixedZone("", -5*3600),
	time.FixedZone("", -8*3600),
	time.FixedZone("", 5*3600+1800),
	time.FixedZone("", 9*3600),
}

func randomAddress(r *rand.Rand) string {
	p := people[r.IntN(len(people))]
	domain := domains[r.IntN(len(domains))]
	local := strings.ToLower(strings.Fields(p.ascii)[0])
	return mime.QEncoding.Encode("utf-8", p.name) + " <" + local + "@" + domain + ">"
}

var people = []struct{ name, ascii string }{
	{"Alice Archer", "alice"}, {"Bob Baker", "bob"}, {"Carol Chen", "carol"},
	{"Jürgen Müller", "juergen"}, {"Zoë Åberg", "zoe"}, {"Дмитрий Иванов", "dmitri"},
	{"Ana Núñez", "ana"}, {"田中 太郎", "taro"}, {"Mallory O'Neil", "mallory"},
}

var domains = []string{"example.org", "example.com", "example.net", "mail.example.de"}

func randomSubject(r *rand.Rand) string {
	n := 2 + r.IntN(7)
	ws := make([]string, n)
	for i := range ws {
		ws[i] = pickWord(r, utf8Text)
	}
	prefix := []string{"", "", "", "Re: ", "Fwd: ", "AW: "}[r.IntN(6)]
	return mime.QEncoding.Encode("utf-8", prefix+strings.Join(ws, " "))
}

// randomFlags draws flags and keywords; messages in a drafts folder are
// \Draft.
func randomFlags(r *rand.Rand, folder string) []string {
	var flags []string
	for _, f := range flagOdds {
		if r.IntN(100) < f.percent {
			flags = append(flags, f.flag)
		}
	}
	if base := path.Base(folder); base == "Entwürfe" || base == "Drafts" {
		flags = append(flags, `\Draft`)
	}
	slices.Sort(flags)
	return flags
}

var flagOdds = []struct {
	flag    string
	percent int
}{
	{`\Seen`, 70}, {`\Answered`, 15}, {`\Flagged`, 10},
	{"$Forwarded", 5}, {"$Label1", 8}, {"$MDNSent", 3}, {"$Junk", 2}, {"Projekt-X", 10},
}
