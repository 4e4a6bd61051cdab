package restore

import (
	"crypto/sha256"
	"hash"
	"slices"

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

type idKey struct {
	id   string
	size int64
}

// matcher decides which archive messages a target folder lacks.
type matcher struct {
	msgs []archive.Message
	held []held

	byKey   map[idKey][]int // archive messages with a Message-ID, by (ID, CRLF size)
	alias   map[idKey]idKey // (ID, raw size) → (ID, CRLF size) where they differ
	padded  map[idKey]idKey // (ID, CRLF size + 2) → (ID, CRLF size): a CRLF added at the end
	suspect map[idKey]bool  // keys a target message matched only as padded
	present []bool          // msgs[i] is on the target
	at      []imap.UID      // the target message it is, when present
	verify  []int           // archive messages to compare by content
	hashes  map[imap.UID]bool
}

// match returns the indices of msgs that the target folder lacks, in
// order. hashTarget returns the content hash of target messages (it may
// leave out one it could not read: that message then matches nothing);
// hashArchive that of msgs[i].
func match(msgs []archive.Message, h []held,
	hashTarget func([]imap.UID) (map[imap.UID][32]byte, error),
	hashArchive func(i int) ([32]byte, error)) ([]int, error) {
	todo, _, err := matchAt(msgs, h, hashTarget, hashArchive)
	return todo, err
}

// matchAt is match, and also returns, for each message the target holds,
// the UID of the target message that is it (0 for the others).
func matchAt(msgs []archive.Message, h []held,
	hashTarget func([]imap.UID) (map[imap.UID][32]byte, error),
	hashArchive func(i int) ([32]byte, error)) ([]int, []imap.UID, error) {
	m := &matcher{msgs: msgs, held: h, present: make([]bool, len(msgs)), at: make([]imap.UID, len(msgs)),
		hashes: map[imap.UID]bool{}}
	m.index()
	heldByKey, heldBySize := m.groupHeld()
	m.noIDCandidates(heldBySize)
	m.idGroups(heldByKey)
	if len(m.verify) > 0 {
		if err := m.byContent(hashTarget, hashArchive); err != nil {
			return nil, nil, err
		}
	}
	var todo []int
	for i, p := range m.present {
		if !p {
			todo = append(todo, i)
		}
	}
	return todo, m.at, nil
}

func (m *matcher) index() {
	m.byKey, m.alias, m.padded, m.suspect = map[idKey][]int{}, map[idKey]idKey{}, map[idKey]idKey{}, map[idKey]bool{}
	for i, msg := range m.msgs {
		if msg.MessageID == "" {
			continue
		}
		k := idKey{msg.MessageID, msg.VSize}
		m.byKey[k] = append(m.byKey[k], i)
		if msg.Size != msg.VSize {
			m.alias[idKey{msg.MessageID, msg.Size}] = k
		}
		m.padded[idKey{msg.MessageID, msg.VSize + 2}] = k
	}
}

// groupHeld indexes the target's messages by the archive key they match
// and by size.
func (m *matcher) groupHeld() (map[idKey][]imap.UID, map[int64][]imap.UID) {
	byKey, bySize := map[idKey][]imap.UID{}, map[int64][]imap.UID{}
	for _, h := range m.held {
		k := idKey{h.id, h.size}
		if _, ok := m.byKey[k]; !ok {
			if a, ok := m.alias[k]; ok {
				k = a
			} else if p, ok := m.padded[k]; ok {
				k = p
				m.suspect[k] = true
			}
		}
		byKey[k] = append(byKey[k], h.uid)
		bySize[h.size] = append(bySize[h.size], h.uid)
	}
	return byKey, bySize
}

// noIDCandidates: an archive message without a Message-ID is compared by
// content with every target message of its size.
func (m *matcher) noIDCandidates(bySize map[int64][]imap.UID) {
	for i, msg := range m.msgs {
		if msg.MessageID != "" {
			continue
		}
		cands := append(slices.Clone(bySize[msg.VSize]), bySize[msg.VSize+2]...)
		if msg.Size != msg.VSize {
			cands = append(cands, bySize[msg.Size]...)
		}
		if len(cands) == 0 {
			continue // nothing of its size: missing
		}
		m.verify = append(m.verify, i)
		for _, uid := range cands {
			m.hashes[uid] = true
		}
	}
}

// idGroups settles the unambiguous (Message-ID, size) matches and queues
// the rest for comparison by content. A target message that is already a
// candidate for a message without Message-ID is never matched unverified.
func (m *matcher) idGroups(byKey map[idKey][]imap.UID) {
	for k, idx := range m.byKey {
		cands := byKey[k]
		switch {
		case len(cands) == 0:
		case len(idx) == 1 && len(cands) == 1 && !m.hashes[cands[0]] && !m.suspect[k]:
			m.present[idx[0]], m.at[idx[0]] = true, cands[0]
		default:
			m.verify = append(m.verify, idx...)
			for _, uid := range cands {
				m.hashes[uid] = true
			}
		}
	}
}

// byContent hashes the queued messages on both sides and lets each target
// message stand for at most one archive message, in archive order.
func (m *matcher) byContent(hashTarget func([]imap.UID) (map[imap.UID][32]byte, error),
	hashArchive func(int) ([32]byte, error)) error {
	uids := make([]imap.UID, 0, len(m.hashes))
	for uid := range m.hashes {
		uids = append(uids, uid)
	}
	slices.Sort(uids)
	got, err := hashTarget(uids)
	if err != nil {
		return err
	}
	pool := map[[32]byte][]imap.UID{}
	for _, uid := range uids {
		if sum, ok := got[uid]; ok {
			pool[sum] = append(pool[sum], uid)
		}
	}
	slices.Sort(m.verify)
	for _, i := range m.verify {
		sum, err := hashArchive(i)
		if err != nil {
			return err
		}
		if p := pool[sum]; len(p) > 0 {
			m.present[i], m.at[i] = true, p[0]
			pool[sum] = p[1:]
		}
	}
	return nil
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
