package restore

import (
	"context"
	"crypto/sha256"
	"hash"

	"github.com/emersion/go-imap/v2"

	"github.com/mailkeep/mailkeep/archive"
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

// matchMsgs adds msgs to d, which holds the target folder's messages, and
// returns the indices of msgs that the target lacks, in order, and for
// each message the target holds, the UID of the target message that is it
// (0 for the others). hashTarget returns the content hash of target
// messages (it may leave out one it could not read: that message then
// matches nothing); hashArchive that of msgs[i].
func matchMsgs(ctx context.Context, d *matchDB, msgs []archive.Message,
	hashTarget func([]imap.UID) (map[imap.UID][32]byte, error),
	hashArchive func(i int) ([32]byte, error)) ([]int, []imap.UID, error) {
	err := d.addArchive(ctx, func(add func(int, archive.Identity) error) error {
		for i, m := range msgs {
			if err := add(i, archive.Identity{ID: m.ID, MessageID: m.MessageID, Size: m.Size, VSize: m.VSize}); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = d.resolve(ctx, hashTarget, func(i int, _ int64) ([32]byte, error) { return hashArchive(i) })
	}
	if err != nil {
		return nil, nil, err
	}
	var todo []int
	at := make([]imap.UID, len(msgs))
	err = d.each(ctx, func(i int, uid imap.UID, _ int64) error {
		if uid == 0 {
			todo = append(todo, i)
		} else {
			at[i] = uid
		}
		return nil
	})
	return todo, at, err
}

// allOf is 0, 1, …, n-1.
func allOf(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
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
