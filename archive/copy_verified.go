package archive

import (
	"fmt"
	"io"
	"sync"
)

// copyBuffers are the blocks CopyVerified copies in.
var copyBuffers = sync.Pool{New: func() any { return new([64 << 10]byte) }}

// CopyVerified writes the whole message of r, a stream from
// Folder.OpenMessage of a message of size bytes, to w. It holds back the
// last byte until the stream has ended cleanly, that is, until it has
// checked the message against its catalog row: a damaged message never
// arrives complete (an APPEND literal, a FETCH literal), so the other end
// never takes it for a whole message. A stream longer than size is
// ErrDamaged; read errors are returned as the stream gave them.
func CopyVerified(w io.Writer, r io.Reader, size int64) error {
	if size > 0 {
		buf := copyBuffers.Get().(*[64 << 10]byte)
		n, err := io.CopyBuffer(w, io.LimitReader(r, size-1), buf[:])
		copyBuffers.Put(buf)
		if err != nil {
			return err
		}
		if n < size-1 {
			return io.ErrUnexpectedEOF
		}
	}
	var last, extra [1]byte
	n, err := io.ReadFull(r, last[:min(size, 1)])
	if err != nil {
		return err
	}
	switch n, err := io.ReadFull(r, extra[:]); {
	case n > 0:
		return fmt.Errorf("longer than its recorded %d bytes: %w", size, ErrDamaged)
	case err != io.EOF:
		return err
	}
	_, err = w.Write(last[:n])
	return err
}
