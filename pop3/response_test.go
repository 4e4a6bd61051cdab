package pop3

import (
	"errors"
	"strings"
	"testing"
)

func TestParseStatus(t *testing.T) {
	tests := []struct {
		line string
		st   status
		text string
		bad  bool
	}{
		{line: "+OK", st: statusOK},
		{line: "+OK ", st: statusOK},
		{line: "+OK 2 320", st: statusOK, text: "2 320"},
		{line: "+ok lower case", st: statusOK, text: "lower case"},
		{line: "-ERR", st: statusErr},
		{line: "-ERR [IN-USE] locked", st: statusErr, text: "[IN-USE] locked"},
		{line: "+", st: statusCont},
		{line: "+ ", st: statusCont},
		{line: "+ dGVzdA==", st: statusCont, text: "dGVzdA=="},
		{line: "+OKAY", bad: true},
		{line: "-ERROR", bad: true},
		{line: "", bad: true},
		{line: "* OK", bad: true},
		{line: "OK", bad: true},
	}
	for _, tc := range tests {
		st, text, err := parseStatus(tc.line)
		if tc.bad {
			if !errors.Is(err, errProtocol) {
				t.Errorf("parseStatus(%q) = %v, %q, %v; want a protocol violation", tc.line, st, text, err)
			}
			continue
		}
		if err != nil || st != tc.st || text != tc.text {
			t.Errorf("parseStatus(%q) = %v, %q, %v; want %v, %q", tc.line, st, text, err, tc.st, tc.text)
		}
	}
}

func TestServerErrorCode(t *testing.T) {
	tests := []struct{ text, code string }{
		{"[IN-USE] locked", "IN-USE"},
		{"[SYS/TEMP] try later", "SYS/TEMP"},
		{"no code", ""},
		{"[unterminated", ""},
		{"[] empty", ""},
	}
	for _, tc := range tests {
		if got := newServerError("X", tc.text).Code; got != tc.code {
			t.Errorf("code of %q = %q, want %q", tc.text, got, tc.code)
		}
	}
	if got := newServerError("X", "bad\x1b[31mred\r").Msg; got != "bad?[31mred?" {
		t.Errorf("Msg keeps control characters: %q", got)
	}
}

func TestParseStat(t *testing.T) {
	good := map[string][2]int64{
		"0 0":                         {0, 0},
		"2 320":                       {2, 320},
		"2 320 octets":                {2, 320},
		"0004194304 9007199254740992": {maxMessages, 1 << 53},
	}
	for text, want := range good {
		n, size, err := parseStat(text)
		if err != nil || int64(n) != want[0] || size != want[1] {
			t.Errorf("parseStat(%q) = %d, %d, %v; want %d, %d", text, n, size, err, want[0], want[1])
		}
	}
	for _, text := range []string{"", "1", "x 1", "1 x", "-1 0", "1 -1", "+1 1", "4194305 0",
		"1 9007199254740993", "99999999999999999999 1", "1 99999999999999999999", "１ 1",
		strings.Repeat("0", 21) + " 1"} {
		if n, size, err := parseStat(text); !errors.Is(err, errProtocol) {
			t.Errorf("parseStat(%q) = %d, %d, %v; want a protocol violation", text, n, size, err)
		}
	}
}

// FuzzResponseLine feeds arbitrary response lines to every parser of
// single lines: none may panic, and what they accept must be well formed.
func FuzzResponseLine(f *testing.F) {
	for _, s := range []string{"+OK", "+OK 2 320", "-ERR [IN-USE] x", "+ dGVzdA==", "+OK 99999999999999999999999 1",
		"1 abc", "1 -1", "1  a", " 1 a", "1 a\vb", "1\u00a0a", "+OK -1 0", "[", "SASL PLAIN LOGIN", "0 0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if st, text, err := parseStatus(line); err == nil {
			if len(text) >= len(line) || st < statusOK || st > statusCont {
				t.Fatalf("parseStatus(%q) = %v, %q", line, st, text)
			}
			if st == statusErr {
				se := newServerError("X", text)
				if strings.ContainsAny(se.Msg, "\r\n\x00") || se.Code != "" && !strings.HasPrefix(se.Msg, "["+se.Code+"]") {
					t.Fatalf("newServerError(%q) = %+v", text, se)
				}
			}
		}
		if n, size, err := parseStat(line); err == nil && (n < 0 || n > maxMessages || size < 0) {
			t.Fatalf("parseStat(%q) = %d, %d", line, n, size)
		}
		num, value, err := parseListLine(line)
		if err == nil && (num < 1 || num > maxMessages || value == "") {
			t.Fatalf("parseListLine(%q) = %d, %q", line, num, value)
		}
		// The same as splitting the line at white space.
		if f := strings.Fields(line); len(f) == 2 {
			n, nerr := parseMsgNum(f[0])
			if (err == nil) != (nerr == nil) || err == nil && (num != n || value != f[1]) {
				t.Fatalf("parseListLine(%q) = %d, %q, %v; the fields give %d, %q, %v", line, num, value, err, n, f[1], nerr)
			}
		} else if err == nil {
			t.Fatalf("parseListLine(%q) = %d, %q; want an error for %d fields", line, num, value, len(f))
		}
		caps := map[string][]string{}
		parseCapa(caps, line)
		if len(caps) > 1 {
			t.Fatalf("parseCapa(%q) = %q", line, caps)
		}
		_ = quote(line)
	})
}
