package pop3

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// dotStuff is the reference encoder: RFC 1939 section 3 as a server does
// it. A line starts at the beginning and after every LF; the last line is
// ended with CRLF if the data does not end with LF.
func dotStuff(body []byte) (wire, want []byte) {
	var b bytes.Buffer
	lineStart := true
	for _, c := range body {
		if lineStart && c == '.' {
			b.WriteByte('.')
		}
		b.WriteByte(c)
		lineStart = c == '\n'
	}
	want = body
	if !lineStart {
		b.WriteString("\r\n")
		want = append(append([]byte(nil), body...), "\r\n"...)
	}
	b.WriteString(".\r\n")
	return b.Bytes(), want
}

// readers present the same bytes in differently sized reads.
var readers = map[string]func(io.Reader) io.Reader{
	"whole":    func(r io.Reader) io.Reader { return r },
	"one byte": iotest.OneByteReader,
	"halves":   iotest.HalfReader,
	"data+EOF": iotest.DataErrReader,
}

func TestCopyBody(t *testing.T) {
	const next = "+OK next\r\n"
	tests := []struct {
		name, wire, want string
	}{
		{"empty", ".\r\n", ""},
		{"one line", "hello\r\n.\r\n", "hello\r\n"},
		{"stuffed dots", "..\r\n...\r\n..x\r\n.\r\n", ".\r\n..\r\n.x\r\n"},
		{"unstuffed dot kept", ".x\r\n.\r\n", ".x\r\n"},
		{"dot not at line start", "a.\r\nb..c\r\n.\r\n", "a.\r\nb..c\r\n"},
		{"bare LF ends a line", "a\n..b\n.\r\n", "a\n.b\n"},
		{"dot CR not LF", ".\rx\r\n.\r\n", ".\rx\r\n"},
		{"stuffed terminator lookalike", "..\r\n.\r\n", ".\r\n"},
		{"dot LF is data", "a\r\n.\n.\r\n", "a\r\n.\n"},
		{"CR CR LF", "a\r\r\n.\r\n", "a\r\r\n"},
		{"binary", "\x80\xff\x00\r\n.\r\n", "\x80\xff\x00\r\n"},
		{"long line", strings.Repeat("y", 100_000) + "\r\n.\r\n", strings.Repeat("y", 100_000) + "\r\n"},
		{"many dot lines", strings.Repeat("..\r\n", 20_000) + ".\r\n", strings.Repeat(".\r\n", 20_000)},
	}
	for _, tc := range tests {
		for rname, wrap := range readers {
			t.Run(tc.name+"/"+rname, func(t *testing.T) {
				r := bufio.NewReaderSize(wrap(strings.NewReader(tc.wire+next)), 16)
				var out bytes.Buffer
				n, err := copyBody(&out, r)
				if err != nil || out.String() != tc.want || n != int64(len(tc.want)) {
					t.Fatalf("copyBody = %q, %d, %v; want %q", out.String(), n, err, tc.want)
				}
				if rest, _ := io.ReadAll(r); string(rest) != next {
					t.Errorf("left %q after the terminator, want %q", rest, next)
				}
			})
		}
	}
}

func TestCopyBodyTruncated(t *testing.T) {
	for _, wire := range []string{"", "a", "a\r\n", "a\r\n.", "a\r\n.\r", "..\r\n", "x\r\n..", ".\n"} {
		for rname, wrap := range readers {
			r := bufio.NewReaderSize(wrap(strings.NewReader(wire)), 16)
			n, err := copyBody(io.Discard, r)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("%s %q: copyBody = %d, %v; want io.ErrUnexpectedEOF", rname, wire, n, err)
			}
		}
	}
}

func FuzzDotReader(f *testing.F) {
	for _, s := range []string{"", ".", "..", ".\r\n", "a\r\n.\r\n", "a\n.", "\r\n..\r\n", "\x80\xff", "a\rb"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		// Arbitrary wire bytes: never a panic, never more out than in.
		r := bufio.NewReaderSize(bytes.NewReader(body), 16)
		var out bytes.Buffer
		n, _ := copyBody(&out, r)
		if n != int64(out.Len()) || out.Len() > len(body) {
			t.Fatalf("raw %q: copyBody wrote %d bytes, counted %d", body, out.Len(), n)
		}

		// Reference-encoded bytes: exactly the original back, and nothing
		// read past the terminator.
		wire, want := dotStuff(body)
		r = bufio.NewReaderSize(iotest.HalfReader(bytes.NewReader(append(wire, "+OK\r\n"...))), 16)
		out.Reset()
		n, err := copyBody(&out, r)
		if err != nil || !bytes.Equal(out.Bytes(), want) || n != int64(len(want)) {
			t.Fatalf("body %q: copyBody(%q) = %q, %d, %v", body, wire, out.Bytes(), n, err)
		}
		if rest, _ := io.ReadAll(r); string(rest) != "+OK\r\n" {
			t.Fatalf("body %q: left %q after the terminator", body, rest)
		}
	})
}
