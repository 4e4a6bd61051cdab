package archive

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
)

// The codec is the one place that knows what a message file holds around
// the message's bytes (see doc/design.md, "Message files"): one zstd
// frame; in an encrypted archive, that frame encrypted with age to the
// account's recipients. Everything that writes a message file goes through
// an encoder, everything that reads one through decode.

// codec is how one archive frames its message files: plain or encrypted,
// with the keys this process has for it.
type codec struct {
	encrypted  bool
	recipients []age.Recipient // new files are encrypted to every one
	identities []age.Identity  // to decrypt; none where only backups run
}

var plainCodec = &codec{}

// ageMagic begins every age file (the first line of its header).
const ageMagic = "age-encryption.org/v1\n"

var (
	// ErrNoIdentity reports a message file of an encrypted archive that
	// was to be decrypted without an identity.
	ErrNoIdentity = errors.New("the archive is encrypted and no identity was given to read it (encryption.identity_file)")
	// ErrWrongIdentity reports a message file of an encrypted archive that
	// none of the given identities can decrypt.
	ErrWrongIdentity = errors.New("none of the given identities can decrypt it (encryption.identity_file)")
	// ErrNoRecipients reports a message to be written to an encrypted
	// archive without a recipient to encrypt it to.
	ErrNoRecipients = errors.New("the archive is encrypted and no recipient was given to write it (encryption.recipients)")
)

// identityError reports whether err is about the identities given rather
// than about the file.
func identityError(err error) bool {
	return errors.Is(err, ErrNoIdentity) || errors.Is(err, ErrWrongIdentity)
}

// Compression levels accepted by newEncoder.
var compressionLevels = map[string]zstd.EncoderLevel{
	"":        zstd.SpeedFastest,
	"fastest": zstd.SpeedFastest,
	"default": zstd.SpeedDefault,
	"better":  zstd.SpeedBetterCompression,
}

// encoder writes message files, one after another. One encoder serves one
// goroutine.
type encoder struct {
	zw     *zstd.Encoder
	aw     io.WriteCloser // the age layer of the file begun last; nil in a plain archive
	stored hash.Hash      // SHA-256 of the file begun last as stored (encrypted only)
}

// newEncoder returns an encoder compressing at the named level ("fastest",
// "default" or "better"; "" means fastest).
func newEncoder(level string) (*encoder, error) {
	l, ok := compressionLevels[level]
	if !ok {
		return nil, fmt.Errorf("unknown compression level %q", level)
	}
	zw, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(l), zstd.WithEncoderConcurrency(1),
		zstd.WithAllLitEntropyCompression(true), zstd.WithWindowSize(512<<10), zstd.WithEncoderCRC(true),
		zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, err
	}
	return &encoder{zw: zw, stored: sha256.New()}, nil
}

// begin starts a new file of an archive framed as c, written to w.
func (e *encoder) begin(w io.Writer, c *codec) error {
	e.aw = nil
	if !c.encrypted {
		e.zw.Reset(w)
		return nil
	}
	if len(c.recipients) == 0 {
		return ErrNoRecipients
	}
	e.stored.Reset()
	aw, err := age.Encrypt(io.MultiWriter(w, e.stored), c.recipients...)
	if err != nil {
		return fmt.Errorf("encrypt: %w", err)
	}
	e.aw = aw
	e.zw.Reset(aw)
	return nil
}

func (e *encoder) Write(p []byte) (int, error) { return e.zw.Write(p) }

// end completes the file begun last. It returns the SHA-256 of the file as
// stored in an encrypted archive, and zero in a plain one.
func (e *encoder) end() (stored [32]byte, err error) {
	if err := e.zw.Close(); err != nil {
		return stored, fmt.Errorf("compress: %w", err)
	}
	if e.aw == nil {
		return stored, nil
	}
	if err := e.aw.Close(); err != nil {
		return stored, fmt.Errorf("encrypt: %w", err)
	}
	e.aw = nil
	e.stored.Sum(stored[:0])
	return stored, nil
}

// abandon drops the file begun last.
func (e *encoder) abandon() {
	e.zw.Reset(nil)
	e.aw = nil
}

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

// decode returns the message held by the file content r of an archive
// framed as c. Closing the result releases the decoder and closes r when
// it is an io.Closer. An error about the identities given wraps
// ErrNoIdentity or ErrWrongIdentity; any other is about the file.
func decode(r io.Reader, c *codec) (io.ReadCloser, error) {
	src := r
	if c.encrypted {
		var err error
		if src, err = decrypt(r, c.identities); err != nil {
			return nil, err
		}
	}
	var d *zstd.Decoder
	switch v := decoders.Get().(type) {
	case *zstd.Decoder:
		d = v
	case error:
		return nil, v
	}
	var br *bufio.Reader
	if !c.encrypted {
		br = fileBufs.Get().(*bufio.Reader)
		br.Reset(src)
		src = br
	}
	if err := d.Reset(src); err != nil {
		decoders.Put(d)
		putFileBuf(br)
		return nil, err
	}
	return &decoded{d: d, src: r, br: br}, nil
}

// fileBufs buffer the reads of a plain file: the decoder reads a frame a
// header and a block at a time, about ten reads for a typical message
// where one or two do. (age's reader already reads in 64 KiB chunks.)
var fileBufs = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}

func putFileBuf(br *bufio.Reader) {
	if br != nil {
		br.Reset(nil)
		fileBufs.Put(br)
	}
}

// decrypt returns the plaintext of the age file r: a zstd frame.
func decrypt(r io.Reader, ids []age.Identity) (io.Reader, error) {
	if len(ids) == 0 {
		return nil, ErrNoIdentity
	}
	head := make([]byte, len(ageMagic))
	if _, err := io.ReadFull(r, head); err != nil || string(head) != ageMagic {
		return nil, errors.New("not an age file, in an encrypted archive")
	}
	pr, err := age.Decrypt(io.MultiReader(strings.NewReader(ageMagic), r), ids...)
	var nomatch *age.NoIdentityMatchError
	switch {
	case errors.As(err, &nomatch):
		return nil, ErrWrongIdentity
	case err != nil:
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	return pr, nil
}

type decoded struct {
	d   *zstd.Decoder
	src io.Reader
	br  *bufio.Reader // buffers src; nil when encrypted
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
	putFileBuf(r.br)
	r.br = nil
	if c, ok := r.src.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
