package restore

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/mailkeep/mailkeep/archive"
)

// The in-memory matcher that matchDB replaced, kept as the reference that
// TestMatchDBAgreesWithReference compares it with.

type idKey struct {
	id   string
	size int64
}

// matcher decides which archive messages a target folder lacks.
type refMatcher struct {
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

// refMatchAt returns the indices of msgs that the target folder lacks, in
// order, and, for each message the target holds,
// the UID of the target message that is it (0 for the others).
func refMatchAt(msgs []archive.Message, h []held,
	hashTarget func([]imap.UID) (map[imap.UID][32]byte, error),
	hashArchive func(i int) ([32]byte, error)) ([]int, []imap.UID, error) {
	m := &refMatcher{msgs: msgs, held: h, present: make([]bool, len(msgs)), at: make([]imap.UID, len(msgs)),
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

func (m *refMatcher) index() {
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
func (m *refMatcher) groupHeld() (map[idKey][]imap.UID, map[int64][]imap.UID) {
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
func (m *refMatcher) noIDCandidates(bySize map[int64][]imap.UID) {
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
func (m *refMatcher) idGroups(byKey map[idKey][]imap.UID) {
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
func (m *refMatcher) byContent(hashTarget func([]imap.UID) (map[imap.UID][32]byte, error),
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

// matchPieces are the Message-IDs and contents the differential test draws
// from: few, so that IDs, sizes and contents collide, with bare LF, CRLF
// and a CRLF added at the end among them.
var matchPieces = struct{ ids, raws []string }{
	ids:  []string{"", "<a>", "<b>", "<c>"},
	raws: []string{"x", "xy", "x\n", "x\r\n", "xy\r\n", "a\nb\n", "a\r\nb\r\n", "AB", "ABCD", "H: v\r\n", "H: v\r\n\r\n", "zz"},
}

// matchCase builds an archive folder and a target folder from data, two
// bytes a message: which side, Message-ID and content.
func matchCase(data []byte) ([]archive.Message, []held, map[imap.UID]string) {
	var msgs []archive.Message
	var hs []held
	content := map[imap.UID]string{}
	p := matchPieces
	for i := 0; i+1 < len(data); i += 2 {
		id, raw := p.ids[int(data[i]>>1)%len(p.ids)], p.raws[int(data[i+1])%len(p.raws)]
		if data[i]&1 == 0 {
			msgs = append(msgs, fakeMsg(id, raw))
			continue
		}
		uid := imap.UID(len(hs) + 1)
		hs = append(hs, held{uid: uid, size: int64(len(raw)), id: id})
		content[uid] = raw
	}
	return msgs, hs, content
}

// agree reports how the matchDB and the reference differ on data, or "".
func agree(t *testing.T, data []byte) string {
	msgs, hs, content := matchCase(data)
	hashed := map[string]map[imap.UID]bool{"db": {}, "ref": {}}
	hasher := func(side string) func([]imap.UID) (map[imap.UID][32]byte, error) {
		return func(uids []imap.UID) (map[imap.UID][32]byte, error) {
			out := map[imap.UID][32]byte{}
			for _, u := range uids {
				hashed[side][u] = true
				out[u] = hashOf(content[u])
			}
			return out, nil
		}
	}
	archiveHash := func(i int) ([32]byte, error) { return hashOf(msgs[i].File), nil }
	todo, at, err := matchHeld(t, msgs, hs, hasher("db"), archiveHash)
	if err != nil {
		t.Fatal(err)
	}
	wantTodo, wantAt, err := refMatchAt(msgs, hs, hasher("ref"), archiveHash)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(todo, wantTodo) || !slices.Equal(at, wantAt) || !maps.Equal(hashed["db"], hashed["ref"]) {
		return fmt.Sprintf("archive %v, target %v: to append %v, at %v, fetched %v; reference %v, %v, %v",
			msgs, hs, todo, at, hashed["db"], wantTodo, wantAt, hashed["ref"])
	}
	return ""
}

// TestMatchDBAgreesWithReference: the on-disk match decides as the
// in-memory one did, on random folders of up to 12 messages a side.
func TestMatchDBAgreesWithReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(20, 6))
	for range 500 {
		data := make([]byte, 2*rng.IntN(25))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		if diff := agree(t, data); diff != "" {
			t.Fatal(diff)
		}
	}
}

func FuzzMatchDB(f *testing.F) {
	f.Add([]byte{2, 0, 3, 0})
	f.Add([]byte{0, 5, 1, 6, 2, 10, 3, 11, 2, 7, 3, 7})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64 {
			return
		}
		if diff := agree(t, data); diff != "" {
			t.Fatal(diff)
		}
	})
}
