package archive

import (
	"bytes"
	"testing"
)

// naiveBareLF counts LFs not preceded by CR, one byte at a time.
func naiveBareLF(b []byte) int64 {
	var n int64
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			n++
		}
	}
	return n
}

// FuzzCounter checks the counter against the naive count, with the input
// split into two writes at every possible point (a CR at the end of one
// write and the LF at the start of the next is not bare).
func FuzzCounter(f *testing.F) {
	for _, s := range []string{"", "\n", "\r\n", "a\nb\r\nc", "\r", "\n\n\r\r\n", "x\r\n\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want := naiveBareLF(b)
		for cut := 0; cut <= len(b); cut++ {
			var c counter
			c.Write(b[:cut])
			c.Write(b[cut:])
			if c.bareLF != want || c.n != int64(len(b)) {
				t.Fatalf("%q cut at %d: bareLF %d n %d, want %d %d", b, cut, c.bareLF, c.n, want, len(b))
			}
		}
	})
}

func BenchmarkCounter(b *testing.B) {
	line := bytes.Repeat([]byte("x"), 70)
	data := bytes.Repeat(append(line, '\r', '\n'), 1000)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var c counter
		c.Write(data)
	}
}
