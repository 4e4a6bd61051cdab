package archive

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"
)

// ErrSource marks a failure to read a message from its source (the server
// connection), as opposed to a failure to write the archive.
var ErrSource = errors.New("reading from the server failed")

type sourceReader struct{ r io.Reader }

func (s sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%w: %w", ErrSource, err)
	}
	return n, err
}

// decoderOpts bound a decoder's memory to what mailkeep's encoder uses.
var decoderOpts = []zstd.DOption{zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(8 << 20),
	zstd.WithDecoderLowmem(true)}

// Open returns the uncompressed content of a published message file.
func (f *Folder) Open(mf MessageFile) (io.ReadCloser, error) {
	file, err := os.Open(f.Path(mf))
	if err != nil {
		return nil, err
	}
	dec, err := zstd.NewReader(file, decoderOpts...)
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("%s: %w", mf.Key, err)
	}
	return &decodedFile{dec: dec, file: file}, nil
}

type decodedFile struct {
	dec  *zstd.Decoder
	file *os.File
}

func (d *decodedFile) Read(p []byte) (int, error) { return d.dec.Read(p) }
func (d *decodedFile) Close() error {
	d.dec.Close()
	return d.file.Close()
}

// ReadMessage decodes a published file and returns its catalog row as far
// as the file alone tells it: size, hash, flags, date (the mtime) and
// Message-ID. IMAP UIDs come from the key (ParseIMAPKey).
func (f *Folder) ReadMessage(mf MessageFile) (Message, error) {
	m := Message{Key: mf.Key, File: mf.Name()}
	rc, err := f.Open(mf)
	if err != nil {
		return m, err
	}
	defer rc.Close()
	sum, cnt, head := sha256.New(), &counter{}, &headCapture{}
	if _, err := io.Copy(io.MultiWriter(sum, cnt, head), rc); err != nil {
		return m, fmt.Errorf("decode %s: %w", mf.Key, err)
	}
	copy(m.SHA256[:], sum.Sum(nil))
	m.Size, m.VSize, m.MessageID = cnt.n, cnt.n+cnt.bareLF, MessageID(head.buf)
	if m.Flags, err = f.Flags(mf.Flags); err != nil {
		return m, err
	}
	fi, err := os.Stat(f.Path(mf))
	if err != nil {
		return m, err
	}
	m.InternalDate = fi.ModTime()
	return m, nil
}
