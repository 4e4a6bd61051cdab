package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/pop3"
)

// Message identity.
//
// A POP3 message is recorded under an identity, kept in the catalog's
// uidl column, from which its key is made (archive.POP3Key):
//
//   - its UIDL, when that is at most maxUIDL bytes (RFC 1939's limit);
//   - "~" and 32 hex digits of the SHA-256 of a longer UIDL, so that file
//     names stay short;
//   - without UIDL (HashWithoutUIDL), "h:" and 32 hex digits of the
//     SHA-256 of the header as TOP n 0 returns it.
//
// Identities that more than one listed message share (a server bug for
// UIDLs, two deliveries of one header for hashes) cannot tell those
// messages apart across sessions, so each of them is retrieved in every
// run and told apart by content: such a message is recorded as
// "<identity> <16 hex digits of the SHA-256 of the message>", unless the
// catalog already holds the identity with the same content.
const (
	maxUIDL       = 70
	idHashDigits  = 32
	dupHashDigits = 16
)

// listed is one message of the maildrop.
type listed struct {
	num  int
	id   string // identity, before duplicates are told apart by content
	size int64  // as LIST announced it
	dup  bool   // another listed message has the same identity
}

func uidlIdentity(uidl string) string {
	if len(uidl) <= maxUIDL {
		return uidl
	}
	sum := sha256.Sum256([]byte(uidl))
	return "~" + hex.EncodeToString(sum[:])[:idHashDigits]
}

func headerIdentity(sum []byte) string { return "h:" + hex.EncodeToString(sum)[:idHashDigits] }

func contentIdentity(id string, sum [32]byte) string {
	return id + " " + hex.EncodeToString(sum[:])[:dupHashDigits]
}

// errNoUIDL explains what to do about a server without UIDL.
var errNoUIDL = errors.New("the server cannot list unique-ids (UIDL), which mailkeep needs to tell messages apart " +
	"across runs; set pop3.no_uidl: hash to identify messages by a hash of their headers instead")

// listing returns the maildrop's messages with their identities.
func (s *pop3Session) listing(ctx context.Context) ([]listed, error) {
	entries, err := s.c.UIDL(ctx)
	switch {
	case errors.Is(err, pop3.ErrNoUIDL) && s.opts.HashWithoutUIDL:
		return s.hashListing(ctx)
	case errors.Is(err, pop3.ErrNoUIDL):
		return nil, fmt.Errorf("%w: %w", errNoUIDL, err)
	case err != nil:
		return nil, err
	}
	out := make([]listed, len(entries))
	for i, e := range entries {
		out[i] = listed{num: e.Num, id: uidlIdentity(e.UID), size: e.Size}
	}
	markDuplicates(out)
	return out, nil
}

// hashListing identifies messages by a hash of their header, for servers
// without UIDL.
func (s *pop3Session) hashListing(ctx context.Context) ([]listed, error) {
	entries, err := s.c.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]listed, len(entries))
	nums := make([]int, len(entries))
	for i, e := range entries {
		out[i], nums[i] = listed{num: e.Num, size: e.Size}, e.Num
	}
	i := 0
	err = s.c.TopEach(ctx, nums, 0, func(num int, body io.Reader, err error) error {
		defer func() { i++ }()
		if err != nil { // without its header a message cannot be identified
			s.st.fail(fmt.Errorf("message %d: %w", num, err))
			s.partialList = true
			return nil
		}
		h := sha256.New()
		if _, err := io.Copy(h, body); err != nil {
			return err
		}
		out[i].id = headerIdentity(h.Sum(nil))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("identify messages by their headers: %w", err)
	}
	out = slices.DeleteFunc(out, func(l listed) bool { return l.id == "" })
	markDuplicates(out)
	return out, nil
}

func markDuplicates(list []listed) {
	n := make(map[string]int, len(list))
	for _, l := range list {
		n[l.id]++
	}
	for i := range list {
		list[i].dup = n[list[i].id] > 1
	}
}

// pop3Index finds catalog rows by identity and by content. It holds
// every row of the folder, or, when the last run's listing vouches for the
// first listed messages (see pop3_known.go), the rows of the others only;
// then rows by content come from the catalog as they are asked for.
type pop3Index struct {
	byID  map[string]*archive.POP3Message
	bySHA map[[32]byte][]*archive.POP3Message
	// byContent looks rows up in the catalog by content; nil when the
	// index holds every row.
	byContent func(context.Context, [32]byte) ([]archive.POP3Message, error)
	byRow     map[int64]*archive.POP3Message // rows held, by catalog id
	looked    map[[32]byte]bool              // contents looked up already
}

func newPOP3Index(rows []archive.POP3Message) *pop3Index {
	x := &pop3Index{byID: make(map[string]*archive.POP3Message, len(rows)),
		bySHA: make(map[[32]byte][]*archive.POP3Message, len(rows)), byRow: map[int64]*archive.POP3Message{}}
	for i := range rows {
		x.add(&rows[i])
	}
	return x
}

// add indexes a row read from the catalog or stored in this run.
func (x *pop3Index) add(m *archive.POP3Message) {
	if m.ID != 0 {
		if x.byRow[m.ID] != nil {
			return
		}
		x.byRow[m.ID] = m
	}
	if x.byID[m.UIDL] == nil || x.byContent == nil {
		x.byID[m.UIDL] = m
	}
	x.bySHA[m.SHA256] = append(x.bySHA[m.SHA256], m)
}

// partial reports whether the index holds only some rows of the folder.
func (x *pop3Index) partial() bool { return x.byContent != nil }

// withContent returns the rows whose message has SHA-256 sum.
func (x *pop3Index) withContent(ctx context.Context, sum [32]byte) ([]*archive.POP3Message, error) {
	if x.byContent != nil && !x.looked[sum] {
		rows, err := x.byContent(ctx, sum)
		if err != nil {
			return nil, err
		}
		x.looked[sum] = true
		for i := range rows {
			x.add(&rows[i])
		}
	}
	return x.bySHA[sum], nil
}

// dupRow returns the row of a message with duplicate identity id and
// content sum: one recorded under id itself with that content, or under
// the content identity.
func (x *pop3Index) dupRow(id string, sum [32]byte) *archive.POP3Message {
	if m := x.byID[id]; m != nil && m.SHA256 == sum {
		return m
	}
	return x.byID[contentIdentity(id, sum)]
}

// pop3Plan is what a session does with the listing.
type pop3Plan struct {
	fetch   []listed // messages to retrieve
	present []int64  // rows marked gone that the server lists again
}

// plan sorts the listed messages into those to retrieve and those the
// catalog holds (s.old), and finds the rows that have come back.
func (s *pop3Session) plan() pop3Plan {
	var p pop3Plan
	s.listedIDs = make(map[string]bool, len(s.list))
	for i, l := range s.list {
		s.listedIDs[l.id] = true
		if i < s.known {
			continue // archived and present: the last run's listing says so
		}
		m := s.idx.byID[l.id]
		switch {
		case l.dup, m == nil:
			p.fetch = append(p.fetch, l)
		default:
			s.old[l.num] = m
			if m.GoneRun != 0 {
				p.present = append(p.present, m.ID)
				m.GoneRun = 0
			}
		}
	}
	return p
}

// unclaimed reports whether no listed message has m's identity, nor, for
// a content identity, the identity it was made from.
func (s *pop3Session) unclaimed(m *archive.POP3Message) bool {
	return !s.listedIDs[m.UIDL] && !s.listedIDs[baseIdentity(m.UIDL)]
}

// baseIdentity strips the content part of a content identity. UIDLs and
// header hashes hold no space.
func baseIdentity(id string) string {
	if i := len(id) - dupHashDigits - 1; i > 0 && id[i] == ' ' {
		return id[:i]
	}
	return id
}

// markPresent records rows that the server lists again.
func (s *pop3Session) markPresent(ctx context.Context, p pop3Plan) error {
	return fatal(s.a.Catalog.MarkPresent(ctx, p.present, s.run))
}

// markGone records the rows that no listed message claims, once every
// retrieved message has been matched (one may have been the content of a
// row under a new UIDL).
func (s *pop3Session) markGone(ctx context.Context) error {
	if s.partialList {
		return nil
	}
	if s.idx.partial() {
		return s.markDeletedGone(ctx)
	}
	var gone []int64
	for _, m := range s.idx.byID {
		if m.ID != 0 && m.GoneRun == 0 && s.unclaimed(m) {
			gone = append(gone, m.ID)
			m.GoneRun = s.run
		}
	}
	if err := s.a.Catalog.MarkGone(ctx, gone, s.run); err != nil {
		return fatal(err)
	}
	s.st.add(func(st *archive.RunStats) { st.Gone += len(gone) })
	return nil
}
