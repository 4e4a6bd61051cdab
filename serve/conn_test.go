package serve

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// TestRewriter: the tagged OK [READ-WRITE] of a SELECT becomes
// OK [READ-ONLY]; nothing else changes, not even the same bytes inside a
// literal, whatever the server's writes are cut into.
func TestRewriter(t *testing.T) {
	body := "x\r\nt2 OK [READ-WRITE] inside a literal\r\n* OK [READ-WRITE]\r\n"
	in := "* OK [CAPABILITY IMAP4rev1] IMAP server ready\r\n" +
		"* 3 EXISTS\r\n" +
		"t1 OK [READ-WRITE] SELECT completed\r\n" +
		"* 1 FETCH (BODY[] {" + strconv.Itoa(len(body)) + "}\r\n" + body + " UID 7)\r\n" +
		"* 2 FETCH (BODY[] {0}\r\n)\r\n" +
		"longtag-with-many-characters OK [READ-WRITE] SELECT completed\r\n" +
		"t3 OK [READ-WRITTEN] not a code we know\r\n" +
		"t4 OK\r\n" +
		"* OK [READ-WRITE] untagged stays\r\n" +
		"+ Ready for literal data\r\n" +
		"t5 NO [READ-WRITE] not OK\r\n"
	want := strings.Replace(in, "t1 OK [READ-WRITE]", "t1 OK [READ-ONLY]", 1)
	want = strings.Replace(want, "characters OK [READ-WRITE]", "characters OK [READ-ONLY]", 1)
	for step := 1; step <= len(in); step++ {
		var r rewriter
		var out bytes.Buffer
		for i := 0; i < len(in); i += step {
			out.Write(r.rewrite([]byte(in[i:min(i+step, len(in))])))
		}
		if out.String() != want {
			t.Fatalf("writes of %d bytes:\n%q\nwant\n%q", step, out.String(), want)
		}
	}
}
