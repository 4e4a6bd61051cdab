package index

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

func TestSegment(t *testing.T) {
	for in, want := range map[string]string{
		"plain words": "plain words",
		"会议纪要":        " 会议 议纪 纪要 ",
		"Q3会议":        "Q3 会议 ",
		"会":           " 会 ",
		"東京タワーで":      " 東京 京タ タワ ワー ーで ",
		"한국어 텍스트":     " 한국 국어   텍스 스트 ",
		"a会b":         "a 会 b",
		"\xff会":       "\xff 会 ",
	} {
		if got := segment(in); got != want {
			t.Errorf("segment(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRFC2231Param(t *testing.T) {
	for field, want := range map[string]string{
		`attachment; filename*=iso-8859-1''caf%E9.txt`:                    "café.txt",
		`attachment; filename*=UTF-8'en'na%C3%AFve.txt`:                   "naïve.txt",
		`attachment; filename*0*=koi8-r''%F0%D2; filename*1*=%C9.doc`:     "При.doc",
		`attachment; filename*1*=%C9.doc; filename*0*=koi8-r''%F0%D2`:     "При.doc",
		`attachment; filename*0*=us-ascii''a; filename*1=b; filename*2=c`: "abc",
		`attachment; filename="plain.txt"`:                                "",
		`attachment; filename*0=notencoded`:                               "",
		`attachment; filename*=x-unknown''abc`:                            "abc",
		`attachment; filename*=nolang`:                                    "",
	} {
		if got := rfc2231Param(field, "filename"); got != want {
			t.Errorf("rfc2231Param(%q) = %q, want %q", field, got, want)
		}
	}
}

func TestAttachmentName(t *testing.T) {
	h := func(ct, cd string) message.Header {
		var th textproto.Header
		if ct != "" {
			th.Set("Content-Type", ct)
		}
		if cd != "" {
			th.Set("Content-Disposition", cd)
		}
		return message.Header{Header: th}
	}
	for _, tt := range []struct{ ct, cd, want string }{
		{"application/pdf", `attachment; filename="a.pdf"`, "a.pdf"},
		{`application/pdf; name="b.pdf"`, "", "b.pdf"},
		{`application/pdf; name="=?UTF-8?Q?=C3=A9t=C3=A9.pdf?="`, "", "été.pdf"},
		{`application/pdf; name*=iso-8859-1''%E9t%E9.pdf`, "", "été.pdf"},
		{"text/plain", "inline", ""},
	} {
		hdr := h(tt.ct, tt.cd)
		_, ctp, _ := hdr.ContentType()
		_, cdp, _ := hdr.ContentDisposition()
		if got := attachmentName(hdr, ctp, cdp); got != tt.want {
			t.Errorf("attachmentName(%q, %q) = %q, want %q", tt.ct, tt.cd, got, tt.want)
		}
	}
}

func TestHTMLText(t *testing.T) {
	for in, want := range map[string]string{
		"<p>a &amp; b</p>":                             "\na & b\n",
		"<b>fore</b>cast":                              "forecast",
		"<script>x</script>y<style>z</style>":          "y",
		"<head><title>t</title></head><body>b</body>":  "b\n",
		"<head><style>s</style><body>b":                "b",
		"a<br>b<br/>c":                                 "a\nb\nc",
		"&eacute;t&eacute; &#8364; &nbsp;x":            "été € \u00a0x",
		"<!-- c -->v<svg><text>no</text></svg>w":       "vw",
		"<a href='x'>link</a> <img alt=\"alt\">":       "link ",
		"unclosed <b":                                  "unclosed ",
		"<table><tr><td>1</td><td>2</td></tr></table>": "\n\n\n1\n\n2\n\n\n",
	} {
		var buf textBuf
		buf.max = 1 << 10
		if err := htmlText(&buf, strings.NewReader(in)); err != nil {
			t.Fatal(err)
		}
		if got := buf.String(); got != want {
			t.Errorf("htmlText(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOpenOddPath: a directory name with URI characters opens, because
// the path is escaped in the SQLite URI.
func TestOpenOddPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a?b#c%20d")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	ix, err := Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ix.Close()
	if _, err := os.Stat(filepath.Join(dir, File)); err != nil {
		t.Errorf("index not where asked: %v", err)
	}
}
