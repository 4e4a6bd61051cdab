package pop3

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// errBodyWrite wraps an error of the caller's writer, to tell it apart from
// an error reading from the server.
var errBodyWrite = errors.New("write message data")

// copyBody copies the data of a multi-line response (RFC 1939 section 3)
// from r to w and consumes its terminating ".\r\n". At the start of a line
// a doubled dot loses one dot; every other byte, CR and bare LF included,
// is written through unchanged. It never holds more than r's buffer: lines
// of any length pass through in chunks.
//
// A line starts at the beginning of the data and after every LF, so a bare
// LF from a broken server still ends a line; only ".\r\n" at the start of a
// line ends the data. Reaching the end of r first is an error wrapping
// io.ErrUnexpectedEOF. It returns the number of bytes written to w.
func copyBody(w io.Writer, r *bufio.Reader) (int64, error) {
	var n int64
	lineStart := true
	for {
		if lineStart {
			done, err := lineStartDot(r)
			if done || err != nil {
				return n, err
			}
		}
		chunk, err := buffered(r)
		if err != nil {
			return n, err
		}
		end, next := spanEnd(chunk)
		m, err := w.Write(chunk[:end])
		n += int64(m)
		if err == nil && m < end {
			err = io.ErrShortWrite
		}
		if err != nil {
			return n, fmt.Errorf("%w: %w", errBodyWrite, err)
		}
		r.Discard(end) // cannot fail: end bytes are buffered
		lineStart = next
	}
}

// lineStartDot handles a dot at the start of a line: it consumes the
// terminator (done) or the first dot of a doubled one. A dot followed by
// anything else is not stuffed as RFC 1939 asks; it is kept as data.
//
// Waiting for three bytes never waits for more than the server must send:
// at the start of a line at least the terminator is still to come.
func lineStartDot(r *bufio.Reader) (done bool, err error) {
	p, err := r.Peek(3)
	if err != nil {
		return false, bodyReadError(err)
	}
	if p[0] != '.' {
		return false, nil
	}
	if p[1] == '\r' && p[2] == '\n' {
		r.Discard(3)
		return true, nil
	}
	if p[1] == '.' {
		r.Discard(1)
	}
	return false, nil
}

// buffered returns the bytes buffered in r, reading more when there are
// none. The slice is valid until the next read from r.
func buffered(r *bufio.Reader) ([]byte, error) {
	if r.Buffered() == 0 {
		if _, err := r.Peek(1); err != nil {
			return nil, bodyReadError(err)
		}
	}
	p, _ := r.Peek(r.Buffered())
	return p, nil
}

// spanEnd returns how much of chunk can be written at once: all of it, or
// up to just after an LF that is followed by a dot or ends the chunk, in
// which case the next byte starts a line (lineStart).
func spanEnd(chunk []byte) (end int, lineStart bool) {
	for {
		i := bytes.IndexByte(chunk[end:], '\n')
		if i < 0 {
			return len(chunk), false
		}
		end += i + 1
		if end == len(chunk) || chunk[end] == '.' {
			return end, true
		}
	}
}

func bodyReadError(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("message data ended before its terminator: %w", io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("read message data: %w", err)
}
