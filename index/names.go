package index

import (
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/charset"
)

// attachmentName returns a part's file name: Content-Disposition's
// filename, else Content-Type's name (older mailers), both decoded from
// RFC 2231 (in any charset) or RFC 2047.
func attachmentName(h message.Header, ctParams, dParams map[string]string) string {
	if n := dParams["filename"]; n != "" {
		return n
	}
	if n := rfc2231Param(h.Get("Content-Disposition"), "filename"); n != "" {
		return n
	}
	if n := ctParams["name"]; n != "" {
		return n
	}
	return rfc2231Param(h.Get("Content-Type"), "name")
}

// rfc2231Param decodes an RFC 2231 parameter (key*=charset”value, or
// continued as key*0*=…; key*1*=…) that the standard parser dropped
// because its charset is neither UTF-8 nor US-ASCII.
func rfc2231Param(field, key string) string {
	segs := map[int]string{}
	encoded := map[int]bool{}
	for _, p := range strings.Split(field, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			continue
		}
		n, enc, ok := paramSegment(strings.ToLower(strings.TrimSpace(k)), key)
		if !ok || len(segs) >= 64 {
			continue
		}
		segs[n], encoded[n] = strings.Trim(strings.TrimSpace(v), `"`), enc
	}
	if len(segs) == 0 || !encoded[0] {
		return ""
	}
	return joinSegments(segs, encoded)
}

// paramSegment recognizes key*, key*N and key*N* and returns N and whether
// the segment is percent-encoded.
func paramSegment(k, key string) (int, bool, bool) {
	rest, ok := strings.CutPrefix(k, key+"*")
	if !ok {
		return 0, false, false
	}
	if rest == "" {
		return 0, true, true
	}
	enc := strings.HasSuffix(rest, "*")
	n, err := strconv.Atoi(strings.TrimSuffix(rest, "*"))
	if err != nil || n < 0 || n > 999 {
		return 0, false, false
	}
	return n, enc, true
}

func joinSegments(segs map[int]string, encoded map[int]bool) string {
	idx := make([]int, 0, len(segs))
	for n := range segs {
		idx = append(idx, n)
	}
	sort.Ints(idx)
	cs, _, first, ok := splitThree(segs[idx[0]])
	if !ok {
		return ""
	}
	var raw strings.Builder
	for i, n := range idx {
		v := segs[n]
		if i == 0 {
			v = first
		}
		if encoded[n] {
			if u, err := url.PathUnescape(v); err == nil {
				v = u
			}
		}
		raw.WriteString(v)
	}
	return decodeCharset(cs, raw.String())
}

// splitThree splits charset'language'value.
func splitThree(s string) (string, string, string, bool) {
	cs, rest, ok := strings.Cut(s, "'")
	if !ok {
		return "", "", "", false
	}
	lang, v, ok := strings.Cut(rest, "'")
	return cs, lang, v, ok
}

func decodeCharset(cs, s string) string {
	if cs == "" || strings.EqualFold(cs, "utf-8") || strings.EqualFold(cs, "us-ascii") {
		return fix8bit(s)
	}
	r, err := charset.Reader(cs, strings.NewReader(s))
	if err != nil {
		return fix8bit(s)
	}
	b, err := io.ReadAll(io.LimitReader(r, 4*maxName))
	if err != nil {
		return fix8bit(s)
	}
	return validUTF8(string(b))
}
