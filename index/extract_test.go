package index

import (
	"bytes"
	"io"
	"runtime/debug"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestExtractCorpus(t *testing.T) {
	tests := []struct {
		name                 string
		from, subject        string
		attachments          []string
		body, notBody, error string
	}{
		{name: "plain", from: "Alice Example <alice@example.com>", subject: "Invoice 2019-04 for services", body: "invoice for April"},
		{name: "latin1", from: "François Lefèvre <francois@example.fr>", subject: "Résumé du projet", body: "crème brûlée"},
		{name: "cp1252", subject: "Angebot für Straßenbau", body: "500 € – „Grüße“ aus München"},
		{name: "koi8r", from: "Иван Петров <ivan@example.ru>", subject: "Отчёт за квартал", body: "Встреча завтра"},
		{name: "sjis", subject: "会議のお知らせ", body: "議事録を添付します"},
		{name: "gb2312", subject: "预算报告", body: "我们下周开会讨论预算"},
		{name: "html_only", body: "Quarterly & annual forecast", notBody: "scriptword"},
		{name: "nested", attachments: []string{"contract.pdf"}, body: "dragonfruit", notBody: "elephantword"},
		{name: "rfc2231", attachments: []string{"Présentation finale.pptx", "预算表.xlsx", "Grüße photo.png"}},
		{name: "noheaders", body: "zeppelins"},
		{name: "garbage", body: "this first line is not a header", error: "header"},
		{name: "cjk", from: "李明 <li@example.cn>", subject: "会议纪要 第三季度", body: "東京タワー"},
		{name: "badcharset", body: "quokka", error: "charset"},
		{name: "badbase64", subject: "Broken encoding platypus", error: "base64"},
		{name: "big", attachments: []string{"holiday-photos.zip"}, body: "aardvark"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Extract(bytes.NewReader(corpusData(t, tt.name)))
			if (err != nil) != (tt.error != "") || (err != nil && !strings.Contains(err.Error(), tt.error)) {
				t.Errorf("error %v, want %q", err, tt.error)
			}
			if err != nil && d.Undecodable != err.Error() {
				t.Errorf("Undecodable %q, error %v", d.Undecodable, err)
			}
			if tt.from != "" && d.From != tt.from {
				t.Errorf("From %q, want %q", d.From, tt.from)
			}
			if tt.subject != "" && d.Subject != tt.subject {
				t.Errorf("Subject %q, want %q", d.Subject, tt.subject)
			}
			if tt.attachments != nil && strings.Join(d.Attachments, "|") != strings.Join(tt.attachments, "|") {
				t.Errorf("Attachments %q, want %q", d.Attachments, tt.attachments)
			}
			if !strings.Contains(d.Body, tt.body) || (tt.notBody != "" && strings.Contains(d.Body, tt.notBody)) {
				t.Errorf("Body %q: want %q, not %q", d.Body, tt.body, tt.notBody)
			}
		})
	}
}

// TestExtractBounded: text is capped at MaxText, a big attachment is not
// held, and parts beyond MaxParts are not walked.
func TestExtractBounded(t *testing.T) {
	long := "Subject: long\r\n\r\n" + strings.Repeat("word ", 2*MaxText/5)
	d, err := Extract(strings.NewReader(long))
	if err != nil || len(d.Body) != MaxText {
		t.Errorf("long text: %d bytes, %v", len(d.Body), err)
	}
	var many strings.Builder
	many.WriteString("Content-Type: multipart/mixed; boundary=b\r\n\r\n")
	for range MaxParts + 10 {
		many.WriteString("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n")
	}
	many.WriteString("--b--\r\n")
	if _, err := Extract(strings.NewReader(many.String())); err == nil || !strings.Contains(err.Error(), "parts") {
		t.Errorf("too many parts: %v", err)
	}
	deep := strings.Repeat("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n", 100)
	if _, err := Extract(strings.NewReader(deep)); err == nil {
		t.Error("deep nesting: no error")
	}
	// The live heap, sampled as the message streams in with the collector
	// at its most eager, stays far below the attachment's size.
	big := corpusData(t, "big")
	defer debug.SetGCPercent(debug.SetGCPercent(1))
	r := &heapSampler{r: bytes.NewReader(big), base: heapAlloc()}
	if _, err := Extract(r); err != nil {
		t.Fatal(err)
	}
	if r.peak > 1<<20 {
		t.Errorf("extracting a message of %d bytes held %d bytes", len(big), r.peak)
	}
}

// heapSampler reads r and records the largest live heap above base seen
// every 128 KiB.
type heapSampler struct {
	r          io.Reader
	base, peak int64
	n          int
}

func (h *heapSampler) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if h.n += n; h.n >= 128<<10 {
		h.n = 0
		h.peak = max(h.peak, heapAlloc()-h.base)
	}
	return n, err
}

func checkDoc(t *testing.T, d Doc) {
	t.Helper()
	if len(d.Body) > MaxText || len(d.Attachments) > maxNames {
		t.Fatalf("unbounded: body %d, %d names", len(d.Body), len(d.Attachments))
	}
	for _, s := range append([]string{d.From, d.To, d.Cc, d.Subject, d.MessageID, d.Body, d.Undecodable}, d.Attachments...) {
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8: %q", s)
		}
		if len(s) > max(MaxText, maxField) {
			t.Fatalf("field of %d bytes", len(s))
		}
	}
}

func FuzzExtract(f *testing.F) {
	for _, c := range corpus {
		if c.name != "big" {
			f.Add(corpusData(f, c.name))
		}
	}
	f.Add([]byte("Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n\r\n----\r\n"))
	f.Add([]byte("Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\nSubject: x\r\n\r\n"))
	f.Add([]byte("Content-Disposition: attachment; filename*0*=koi8-r''%F0; filename*1*=%F2\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Extract(bytes.NewReader(data))
		checkDoc(t, d)
		if err != nil && d.Undecodable == "" {
			t.Fatalf("error %v not noted", err)
		}
	})
}

func FuzzHTMLText(f *testing.F) {
	f.Add("<p>a &amp; b</p><script>x</script>")
	f.Add("<head><title>t</title><body>b")
	f.Add("<svg><svg></svg>text")
	f.Fuzz(func(t *testing.T, s string) {
		buf := &textBuf{max: 1 << 10}
		if err := htmlText(buf, strings.NewReader(s)); err != nil && err != errTextFull && err != io.EOF {
			if !strings.Contains(err.Error(), "buffer") {
				t.Fatalf("htmlText: %v", err)
			}
		}
		if buf.b.Len() > 1<<10 {
			t.Fatalf("%d bytes", buf.b.Len())
		}
	})
}

func TestExtractLongHeader(t *testing.T) {
	msg := "Subject: kept\r\nX-Long: " + strings.Repeat("x", maxHeader) + "\r\n\r\nbody\r\n"
	d, err := Extract(strings.NewReader(msg))
	if err == nil || !strings.Contains(err.Error(), "longer than") || d.Subject != "kept" {
		t.Errorf("long header: %q, %v", d.Subject, err)
	}
	d, err = Extract(strings.NewReader("Subject: only a header"))
	if err != nil || d.Subject != "only a header" {
		t.Errorf("header only: %q, %v", d.Subject, err)
	}
}
