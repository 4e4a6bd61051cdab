package serve

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/emersion/go-imap/v2"
)

// dovecotTestMessage is the message of Dovecot's own BODYSTRUCTURE test
// (src/lib-imap/test-imap-bodystructure.c), with CRLF line ends: the
// sizes and line counts Dovecot's test expects are those of this form.
var dovecotTestMessage = strings.ReplaceAll(`From: user@domain.org
Date: Sat, 24 Mar 2007 23:00:00 +0200
Mime-Version: 1.0
Content-Type: multipart/mixed; boundary="foo
 bar"

Root MIME prologue

--foo bar
Content-Type: text/x-myown; charset=us-ascii; foo="quoted\"string"
Content-ID: <foo@example.com>
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==
Content-Disposition: inline; foo=bar
Content-Description: hellodescription
Content-Language: en, fi, se
Content-Location: http://example.com/test.txt

hello

--foo bar
Content-Type: message/rfc822

From: sub@domain.org
To: sub-to1@domain.org, sub-to2@domain.org
Date: Sun, 12 Aug 2012 12:34:56 +0300
Subject: submsg
Content-Type: multipart/alternative; boundary="sub1"

Sub MIME prologue
--sub1
Content-Type: text/html
Content-Transfer-Encoding: 8bit

<p>Hello world</p>

--sub1
Content-Type: text/plain
Content-Transfer-Encoding: ?invalid

Hello another world

--sub1--
Sub MIME epilogue

--foo bar--
Root MIME epilogue
`, "\n", "\r\n")

// TestDovecotBodyStructure: the structure of Dovecot's test message is
// what Dovecot's test expects (but for MD5, which go-imap does not write).
func TestDovecotBodyStructure(t *testing.T) {
	root, err := parseStructure(iotest.OneByteReader(strings.NewReader(dovecotTestMessage)))
	if err != nil {
		t.Fatal(err)
	}
	if root.end != int64(len(dovecotTestMessage)) {
		t.Errorf("root ends at %d, want %d", root.end, len(dovecotTestMessage))
	}
	got := structureText(bodyStructure(root))
	want := `multipart/mixed [boundary=foo bar] (` +
		`text/x-myown [charset=us-ascii foo=quoted"string] id=<foo@example.com> desc=hellodescription 7bit 7 lines=1 inline[foo=bar] [en fi se] http://example.com/test.txt; ` +
		`message/rfc822 [] 7bit 412 lines=21 env(Sun, 12 Aug 2012 12:34:56 +0300|submsg|sub@domain.org|sub-to1@domain.org,sub-to2@domain.org) ` +
		`multipart/alternative [boundary=sub1] (` +
		`text/html [charset=us-ascii] 8bit 20 lines=1; ` +
		`text/plain [charset=us-ascii] 7bit 21 lines=1))`
	if got != want {
		t.Errorf("structure\n%s\nwant\n%s", got, want)
	}
}

// structureText writes a BODYSTRUCTURE compactly, for comparisons.
func structureText(bs imap.BodyStructure) string {
	switch bs := bs.(type) {
	case *imap.BodyStructureMultiPart:
		var parts []string
		for _, c := range bs.Children {
			parts = append(parts, structureText(c))
		}
		return fmt.Sprintf("multipart/%s %s (%s)", bs.Subtype, paramText(bs.Extended.Params), strings.Join(parts, "; "))
	case *imap.BodyStructureSinglePart:
		s := fmt.Sprintf("%s/%s %s", bs.Type, bs.Subtype, paramText(bs.Params))
		if bs.ID != "" {
			s += " id=" + bs.ID
		}
		if bs.Description != "" {
			s += " desc=" + bs.Description
		}
		s += fmt.Sprintf(" %s %d", bs.Encoding, bs.Size)
		if bs.Text != nil {
			s += fmt.Sprintf(" lines=%d", bs.Text.NumLines)
		}
		if m := bs.MessageRFC822; m != nil {
			e := m.Envelope
			var to []string
			for _, a := range e.To {
				to = append(to, a.Mailbox+"@"+a.Host)
			}
			s += fmt.Sprintf(" lines=%d env(%s|%s|%s@%s|%s) %s", m.NumLines, e.Date.Format("Mon, 02 Jan 2006 15:04:05 -0700"),
				e.Subject, e.From[0].Mailbox, e.From[0].Host, strings.Join(to, ","), structureText(m.BodyStructure))
		}
		if x := bs.Extended; x != nil && x.Disposition != nil {
			s += fmt.Sprintf(" %s%s %v %s", x.Disposition.Value, paramText(x.Disposition.Params), x.Language, x.Location)
		}
		return s
	}
	return "?"
}

func paramText(p map[string]string) string {
	var kv []string
	for k, v := range p {
		kv = append(kv, k+"="+v)
	}
	return "[" + strings.Join(sorted(kv), " ") + "]"
}

func sorted(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

// TestSections: each kind of section of Dovecot's test message.
func TestSections(t *testing.T) {
	msg := dovecotTestMessage
	root, err := parseStructure(strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	after := func(s string) string { return msg[strings.Index(msg, s)+len(s):] }
	sub := after("Content-Type: message/rfc822\r\n\r\n")
	sub = sub[:strings.Index(sub, "\r\n--foo bar--")]
	subHeader := sub[:strings.Index(sub, "\r\n\r\n")+4]
	tests := []struct {
		section string
		want    string
		ok      bool
	}{
		{"", msg, true},
		{"HEADER", msg[:strings.Index(msg, "\r\n\r\n")+4], true},
		{"TEXT", msg[strings.Index(msg, "\r\n\r\n")+4:], true},
		{"1", "hello\r\n", true},
		{"1.MIME", after("--foo bar\r\n")[:strings.Index(after("--foo bar\r\n"), "\r\n\r\n")+4], true},
		{"2", sub, true},
		{"2.HEADER", subHeader, true},
		{"2.TEXT", sub[len(subHeader):], true},
		{"2.1", "<p>Hello world</p>\r\n", true},
		{"2.2", "Hello another world\r\n", true},
		{"2.2.MIME", "Content-Type: text/plain\r\nContent-Transfer-Encoding: ?invalid\r\n\r\n", true},
		{"2.3", "", false},
		{"1.HEADER", "", false},
		{"3", "", false},
		{"HEADER.FIELDS (Date FROM)", "From: user@domain.org\r\nDate: Sat, 24 Mar 2007 23:00:00 +0200\r\n\r\n", true},
		{"2.HEADER.FIELDS.NOT (From To Date Content-Type)", "Subject: submsg\r\n\r\n", true},
	}
	for _, tt := range tests {
		item := parseSection(t, tt.section)
		src, ok := sectionSource(root, item, int64(len(msg)))
		if ok != tt.ok {
			t.Errorf("%s: found %v, want %v", tt.section, ok, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		var b bytes.Buffer
		size := src.to - src.from
		if src.filtered {
			size, _ = filteredSize(strings.NewReader(msg), src)
		}
		if err := copySource(&b, strings.NewReader(msg), src, window{0, size}); err != nil {
			t.Errorf("%s: %v", tt.section, err)
		}
		if b.String() != tt.want {
			t.Errorf("%s: %q, want %q", tt.section, b.String(), tt.want)
		}
		if int64(b.Len()) != size {
			t.Errorf("%s: %d bytes, announced %d", tt.section, b.Len(), size)
		}
	}
}

// parseSection reads a section as a FETCH names it.
func parseSection(t *testing.T, s string) *imap.FetchItemBodySection {
	item := &imap.FetchItemBodySection{}
	rest := s
	for rest != "" && rest[0] >= '0' && rest[0] <= '9' {
		var n int
		fmt.Sscanf(rest, "%d", &n)
		item.Part = append(item.Part, n)
		rest = strings.TrimLeft(rest, "0123456789")
		rest = strings.TrimPrefix(rest, ".")
	}
	spec, list, _ := strings.Cut(rest, " ")
	item.Specifier = imap.PartSpecifier(strings.TrimSuffix(strings.TrimSuffix(spec, ".FIELDS.NOT"), ".FIELDS"))
	names := strings.Fields(strings.Trim(list, "()"))
	switch {
	case strings.HasSuffix(spec, ".FIELDS.NOT"):
		item.HeaderFieldsNot = names
	case strings.HasSuffix(spec, ".FIELDS"):
		item.HeaderFields = names
	}
	return item
}

// TestPartialWindows: a partial fetch of a filtered header is cut from
// the filtered bytes.
func TestPartialWindows(t *testing.T) {
	msg := dovecotTestMessage
	src := source{from: 0, to: int64(strings.Index(msg, "\r\n\r\n") + 4), filtered: true, fields: []string{"from", "date"}}
	full := "From: user@domain.org\r\nDate: Sat, 24 Mar 2007 23:00:00 +0200\r\n\r\n"
	for off := int64(0); off <= int64(len(full)); off += 7 {
		for n := int64(0); off+n <= int64(len(full)); n += 5 {
			var b bytes.Buffer
			if err := copySource(&b, strings.NewReader(msg), src, window{off, n}); err != nil {
				t.Fatalf("<%d.%d>: %v", off, n, err)
			}
			if b.String() != full[off:off+n] {
				t.Fatalf("<%d.%d>: %q, want %q", off, n, b.String(), full[off:off+n])
			}
		}
	}
	if w := partialWindow(&imap.SectionPartial{Offset: 90, Size: 50}, 100); w != (window{90, 10}) {
		t.Errorf("window past the end: %+v", w)
	}
}

// TestStructureEdges: boundaries as the first body line, a header ended
// by a boundary, a message without a header end, nested parts that end
// at an outer boundary, a multipart without a boundary, long lines.
func TestStructureEdges(t *testing.T) {
	long := strings.Repeat("x", 3*readerSize) + "\r\n"
	tests := []struct {
		name, msg string
		want      string
	}{
		{"no empty line", "Subject: x\r\nFrom: y\r\n", "text/plain [charset=us-ascii] 7bit 0 lines=0"},
		{"no line end", "Subject: x\r\n\r\nabc", "text/plain [charset=us-ascii] 7bit 3 lines=0"},
		{"long lines", "Subject: " + long + "\r\n" + long + long, fmt.Sprintf("text/plain [charset=us-ascii] 7bit %d lines=2", 2*len(long))},
		{"multipart without boundary", "Content-Type: multipart/mixed\r\n\r\nbody\r\n",
			"multipart/mixed [] (text/plain [charset=us-ascii] 7bit 0 lines=0)"},
		{"boundary first, part without header end", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n--b\r\n\r\nx\r\n--b--\r\n",
			"multipart/mixed [boundary=b] (text/html [charset=us-ascii] 7bit 0 lines=0; text/plain [charset=us-ascii] 7bit 1 lines=0)"},
		{"inner part ended by the outer boundary", "Content-Type: multipart/mixed; boundary=out\r\n\r\n--out\r\n" +
			"Content-Type: multipart/alternative; boundary=in\r\n\r\n--in\r\n\r\nab\r\n--out\r\n\r\ncd\r\n--out--\r\n",
			"multipart/mixed [boundary=out] (multipart/alternative [boundary=in] (text/plain [charset=us-ascii] 7bit 2 lines=0); text/plain [charset=us-ascii] 7bit 2 lines=0)"},
		{"longest boundary wins", "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n" +
			"Content-Type: multipart/mixed; boundary=ab\r\n\r\n--ab\r\n\r\nx\r\n--ab--\r\n--a--\r\n",
			"multipart/mixed [boundary=a] (multipart/mixed [boundary=ab] (text/plain [charset=us-ascii] 7bit 1 lines=0))"},
		{"not MIME", "Content-Transfer-Encoding: base64\r\n\r\nQQ==\r\n", "text/plain [charset=us-ascii] 7bit 6 lines=1"},
		{"digest", "Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: s\r\n\r\nbody\r\n--d--\r\n",
			"multipart/digest [boundary=d] (message/rfc822 [] 7bit 18 lines=2 env(|s|@|) text/plain [charset=us-ascii] 7bit 4 lines=0)"},
	}
	for _, tt := range tests {
		root, err := parseStructure(strings.NewReader(tt.msg))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := structureTextLoose(bodyStructure(root)); got != tt.want {
			t.Errorf("%s:\n%s\nwant\n%s", tt.name, got, tt.want)
		}
	}
}

// structureTextLoose is structureText for envelopes without a sender.
func structureTextLoose(bs imap.BodyStructure) (s string) {
	defer func() {
		if recover() != nil {
			s = looseMessage(bs)
		}
	}()
	return structureText(bs)
}

func looseMessage(bs imap.BodyStructure) string {
	mp, ok := bs.(*imap.BodyStructureMultiPart)
	if !ok {
		return "?"
	}
	var parts []string
	for _, c := range mp.Children {
		sp, ok := c.(*imap.BodyStructureSinglePart)
		if !ok || sp.MessageRFC822 == nil {
			parts = append(parts, structureText(c))
			continue
		}
		m := sp.MessageRFC822
		parts = append(parts, fmt.Sprintf("%s/%s %s %s %d lines=%d env(|%s|@|) %s", sp.Type, sp.Subtype, paramText(sp.Params),
			sp.Encoding, sp.Size, m.NumLines, m.Envelope.Subject, structureText(m.BodyStructure)))
	}
	return fmt.Sprintf("multipart/%s %s (%s)", mp.Subtype, paramText(mp.Extended.Params), strings.Join(parts, "; "))
}

// FuzzStructure: any input parses without a panic, within bounds, into
// parts whose offsets nest, and its sections copy out as announced.
func FuzzStructure(f *testing.F) {
	f.Add(dovecotTestMessage)
	f.Add("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n--b--\r\n")
	f.Add("Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\n")
	f.Fuzz(func(t *testing.T, msg string) {
		root, err := parseStructure(strings.NewReader(msg))
		if err != nil {
			t.Fatal(err)
		}
		if root.end != int64(len(msg)) {
			t.Fatalf("root ends at %d of %d", root.end, len(msg))
		}
		checkNesting(t, root, 0, int64(len(msg)))
		bodyStructure(root)
		for _, path := range [][]int{{1}, {2}, {1, 1}, {2, 1}, {1, 2, 1}} {
			for _, spec := range []imap.PartSpecifier{imap.PartSpecifierNone, imap.PartSpecifierMIME,
				imap.PartSpecifierHeader, imap.PartSpecifierText} {
				item := &imap.FetchItemBodySection{Part: path, Specifier: spec}
				src, ok := sectionSource(root, item, int64(len(msg)))
				if !ok {
					continue
				}
				n, err := io.Copy(io.Discard, io.NewSectionReader(strings.NewReader(msg), src.from, src.to-src.from))
				if err != nil || n != src.to-src.from || src.from > src.to {
					t.Fatalf("%v %s: range %d..%d of %d", path, spec, src.from, src.to, len(msg))
				}
			}
		}
	})
}

func checkNesting(t *testing.T, pt *part, lo, hi int64) {
	if pt.hdr < lo || pt.hdr > pt.body || pt.body > pt.end || pt.end > hi || pt.lines < 0 {
		t.Fatalf("part %d/%d/%d (lines %d) outside %d..%d", pt.hdr, pt.body, pt.end, pt.lines, lo, hi)
	}
	for _, c := range pt.children {
		checkNesting(t, c, pt.body, pt.end)
	}
}
