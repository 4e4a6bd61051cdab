package archive

import (
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// The codec is the one place that knows what a message file holds around
// the message's bytes: today one zstd frame (see doc/design.md, "Message
// files"). Everything that writes a message file goes through an encoder,
// everything that reads one through decode.

// Compression levels accepted by newEncoder.
var compressionLevels = map[string]zstd.EncoderLevel{
	"":        zstd.SpeedFastest,
	"fastest": zstd.SpeedFastest,
	"default": zstd.SpeedDefault,
	"better":  zstd.SpeedBetterCompression,
}

// encoder writes message files, one after another. One encoder serves one
// goroutine.
type encoder struct{ zw *zstd.Encoder }

// newEncoder returns an encoder compressing at the named level ("fastest",
// "default" or "better"; "" means fastest).
func newEncoder(level string) (*encoder, error) {
	l, ok := compressionLevels[level]
	if !ok {
		return nil, fmt.Errorf("unknown compression level %q", level)
	}
	zw, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(l), zstd.WithEncoderConcurrency(1),
		zstd.WithAllLitEntropyCompression(true), zstd.WithWindowSize(1<<20), zstd.WithEncoderCRC(true))
	if err != nil {
		return nil, err
	}
	return &encoder{zw: zw}, nil
}

// begin starts a new file written to w.
func (e *encoder) begin(w io.Writer) { e.zw.Reset(w) }

func (e *encoder) Write(p []byte) (int, error) { return e.zw.Write(p) }

// end completes the file begun last.
func (e *encoder) end() error { return e.zw.Close() }

// abandon drops the file begun last.
func (e *encoder) abandon() { e.zw.Reset(nil) }

// decoderOpts bound a decoder's memory to what mailkeep's encoder uses.
var decoderOpts = []zstd.DOption{zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(8 << 20),
	zstd.WithDecoderLowmem(true)}

// decoders are reused: making one costs more than decoding a typical
// message.
var decoders = sync.Pool{New: func() any {
	d, err := zstd.NewReader(nil, decoderOpts...)
	if err != nil {
		return err
	}
	return d
}}

// decode returns the message held by the file content r. Closing the
// result releases the decoder and closes r when it is an io.Closer.
func decode(r io.Reader) (io.ReadCloser, error) {
	var d *zstd.Decoder
	switch v := decoders.Get().(type) {
	case *zstd.Decoder:
		d = v
	case error:
		return nil, v
	}
	if err := d.Reset(r); err != nil {
		decoders.Put(d)
		return nil, err
	}
	return &decoded{d: d, src: r}, nil
}

type decoded struct {
	d   *zstd.Decoder
	src io.Reader
}

func (r *decoded) Read(p []byte) (int, error) {
	if r.d == nil {
		return 0, io.ErrClosedPipe
	}
	return r.d.Read(p)
}

func (r *decoded) Close() error {
	if r.d == nil {
		return nil
	}
	r.d.Reset(nil)
	decoders.Put(r.d)
	r.d = nil
	if c, ok := r.src.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
