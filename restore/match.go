package restore

import (
	"crypto/sha256"
	"hash"

	"github.com/emersion/go-imap/v2"
)

// Identity: which archive messages a target folder already holds.
//
// A message's identity is its content. Comparing content is costly (the
// whole message must come over the network), so it is decided cheaply
// where that is safe and by content only where it is not:
//
//   - One FETCH per target folder reads every message's size and its
//     Message-ID header field (held). The Message-ID is parsed by the same
//     function that parsed the archive's, so equal headers compare equal.
//   - An archive message with a Message-ID whose (Message-ID, size) no
//     other archive message of the folder shares, and that exactly one
//     target message has, is present. Sizes are compared with the size
//     with CRLF line ends (what Dovecot and most servers report), or the
//     raw size.
//   - Everything else is compared by content: archive messages without a
//     Message-ID (their candidates are the target messages of the same
//     size, whatever Message-ID the target parses: a header that did not
//     parse in the archive may parse as a single field), groups where
//     several archive or target messages share (Message-ID, size), and a
//     target message whose size is the CRLF size plus 2 (a server that
//     added a CRLF at the end: Courier, go-imap's server). Those
//     candidates are fetched and hashed, and each target message counts
//     for at most one archive message, so two identical archive messages
//     need two identical target messages.
//
// The content hash is SHA-256 over the message with line ends made CRLF
// and NUL bytes made 0x80, which is how Dovecot stores what it is given,
// and without the line ends at its very end, which some servers add.

// held is one message a target folder holds.
type held struct {
	uid  imap.UID
	size int64
	id   string // Message-ID, as archive.MessageID parses it; "" if none
}

// contentHash hashes a message as a server stores it: bare LF as CRLF,
// NUL as 0x80, and without the line ends at its very end (Courier adds a
// CRLF to a message that does not end with one; go-imap's server ends a
// header without a body with an empty line).
type contentHash struct {
	h       hash.Hash
	prevCR  bool
	buf     []byte
	pending []byte // line ends held back: written only if more follows
}

func newContentHash() *contentHash {
	return &contentHash{h: sha256.New(), buf: make([]byte, 0, 32<<10)}
}

func (c *contentHash) Write(p []byte) (int, error) {
	for _, b := range p {
		switch {
		case b == '\n' && !c.prevCR:
			c.pending = append(c.pending, '\r', '\n')
		case b == '\r', b == '\n':
			c.pending = append(c.pending, b)
		case b == 0:
			c.write(0x80)
		default:
			c.write(b)
		}
		c.prevCR = b == '\r'
	}
	return len(p), nil
}

// write adds a byte that is not a line end, after the line ends held back.
func (c *contentHash) write(b byte) {
	c.buf = append(c.buf, c.pending...)
	c.pending = c.pending[:0]
	c.buf = append(c.buf, b)
	if len(c.buf) >= cap(c.buf)/2 {
		c.h.Write(c.buf)
		c.buf = c.buf[:0]
	}
}

func (c *contentHash) Sum() [32]byte {
	c.h.Write(c.buf)
	c.buf, c.pending = c.buf[:0], c.pending[:0]
	var s [32]byte
	copy(s[:], c.h.Sum(nil))
	return s
}
