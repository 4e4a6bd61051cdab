package backup

import (
	"context"
	"crypto/sha256"
	"io"

	"github.com/mailkeep/mailkeep/archive"
)

// What a POP3 run need not read again.
//
// A run that archived every message it listed records, with the folder's
// state, a digest of the identities the server keeps (archive.POP3Listing):
// the whole listing in keep mode, what QUIT left in delete mode. Mail is
// only ever added at the end of a maildrop, so when the first Count
// identities the next run lists hash to that digest, those messages are
// archived and present, and every row of the folder that is present is one
// of them (the catalog trusts a listing only when no run came after the
// one that recorded it). The run then reads the rows of the identities
// after them alone, from the index on uidl, and rows by content only for
// the messages it retrieves: a run with nothing new reads no message row,
// however large the maildrop. Anything else (a message deleted by another
// client, duplicates, a failed or crashed run, delete_after_days) makes the
// run read every row, as before.

// trustListing reports whether the last run's listing vouches for the
// first listed messages, and sets s.known and s.prev when it does.
func (s *pop3Session) trustListing(ctx context.Context) (bool, error) {
	if s.partialList || s.opts.DeleteAfterDays > 0 || hasDuplicates(s.list) {
		return false, nil
	}
	l, ok, err := s.a.Catalog.LastPOP3Listing(ctx, s.state.ID, s.run)
	if err != nil || !ok || l.Count > len(s.list) {
		return false, err
	}
	// In delete mode, the messages the last run kept on the server must be
	// checked and deleted now, which takes their rows.
	if s.opts.Delete && l.Count > 0 {
		return false, nil
	}
	if listingDigest(s.list[:l.Count]) != l.Digest {
		return false, nil
	}
	s.known, s.prev = l.Count, l
	return true, nil
}

// loadAfterKnown reads the rows of the listed identities after the known
// ones; rows by content are looked up when needed.
func (s *pop3Session) loadAfterKnown(ctx context.Context) error {
	ids := make([]string, 0, len(s.list)-s.known)
	for _, l := range s.list[s.known:] {
		ids = append(ids, l.id)
	}
	rows, err := s.a.Catalog.POP3ByIdentity(ctx, s.state.ID, ids)
	if err != nil {
		return fatal(err)
	}
	cat, folder := s.a.Catalog, s.state.ID
	s.idx = &pop3Index{byID: map[string]*archive.POP3Message{}, bySHA: map[[32]byte][]*archive.POP3Message{},
		byRow: map[int64]*archive.POP3Message{}, looked: map[[32]byte]bool{},
		byContent: func(ctx context.Context, sum [32]byte) ([]archive.POP3Message, error) {
			return cat.POP3BySHA256(ctx, folder, sum)
		}}
	for i := range rows {
		s.idx.add(&rows[i])
	}
	return nil
}

// markDeletedGone marks gone what the last run's QUIT deleted: with the
// known messages, those are the only present rows the listing may lack.
func (s *pop3Session) markDeletedGone(ctx context.Context) error {
	n, err := s.a.Catalog.MarkDeletedGone(ctx, s.state.ID, s.prev.Run, s.run)
	if err != nil {
		return fatal(err)
	}
	s.st.add(func(st *archive.RunStats) { st.Gone += n })
	return nil
}

// leftListing returns the listing the server keeps after this session's
// QUIT, for the next run to trust, or nil when it may not: something
// failed, some messages could not be identified or share identities, or
// delete_after_days needs every row anyway.
func (s *pop3Session) leftListing() *archive.POP3Listing {
	if s.partialList || s.opts.DeleteAfterDays > 0 || s.st.errors() > 0 || hasDuplicates(s.list) {
		return nil
	}
	kept := make([]listed, 0, len(s.list)-len(s.markedNums))
	for _, l := range s.list {
		if !s.markedNums[l.num] {
			kept = append(kept, l)
		}
	}
	return &archive.POP3Listing{FolderID: s.state.ID, Run: s.run, Count: len(kept), Digest: listingDigest(kept)}
}

// listingDigest is the SHA-256 of the identities, each followed by a
// newline (identities hold none), in listing order.
func listingDigest(list []listed) [32]byte {
	h := sha256.New()
	for _, l := range list {
		io.WriteString(h, l.id)
		h.Write([]byte{'\n'})
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

func hasDuplicates(list []listed) bool {
	for _, l := range list {
		if l.dup {
			return true
		}
	}
	return false
}
