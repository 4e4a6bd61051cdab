package backup

import (
	"context"

	"github.com/emersion/go-imap/v2"

	"github.com/mailkeep/mailkeep/archive"
)

// The tail sync: comparing only what can have changed.
//
// A folder that changed is compared with the catalog by UID: the server's
// UIDs (UID SEARCH ALL) against the catalog's, to find what is new and
// what has gone. Both lists grow with the folder. But a sync that leaves
// nothing behind (every server message below the UIDNEXT it selected is
// archived and present) certifies it, with the number of those messages
// (archive.IMAPSynced). UIDs below that UIDNEXT are never given out again
// under the same UIDVALIDITY, so since then they can only have gone; when
// the server's message count equals the certified count plus the messages
// from that UIDNEXT on, none has. The sync then lists only the UIDs from
// that UIDNEXT on (UID SEARCH UID n:*) and reads only their catalog
// entries: a message the last sync certified is archived, and one whose
// fetch failed, or that a crashed run left for later, was never certified.
// Anything else (no certificate, another UIDVALIDITY, a count that does
// not add up, a server without CONDSTORE, whose flags must be fetched
// whole anyway) compares the whole folder, as before.

// tail lists the server's UIDs from the certified UIDNEXT on and reads
// the catalog's, when the last sync's certificate shows that nothing below
// it has gone. ok is false when the whole folder must be compared.
func (fs *folderSync) tail(ctx context.Context) (server uidList, ok bool, err error) {
	st, sel := fs.state, fs.sel
	if !fs.condstr || st.HighestModSeq == 0 || sel.NumMessages == 0 || st.UIDValidity != sel.UIDValidity {
		return uidList{}, false, nil
	}
	cat := fs.w.a.Catalog
	synced, ok, err := cat.Synced(ctx, st)
	if err != nil || !ok || uint32(sel.UIDNext) < synced.UIDNext {
		return uidList{}, false, fatal(err)
	}
	server, err = fs.serverUIDsFrom(synced.UIDNext)
	if err != nil {
		return uidList{}, false, err
	}
	if uint64(synced.Count)+uint64(server.len()) != uint64(sel.NumMessages) {
		fs.w.opts.Log.Debug("messages have gone; comparing the whole folder", "folder", fs.f.Name,
			"certified", synced.Count, "newer", server.len(), "messages", sel.NumMessages)
		return uidList{}, false, nil
	}
	known, err := cat.UIDsFrom(ctx, st.ID, sel.UIDValidity, synced.UIDNext)
	if err != nil {
		return uidList{}, false, fatal(err)
	}
	fs.known, fs.from, fs.below = known, synced.UIDNext, synced.Count
	fs.w.opts.Log.Debug("tail sync", "folder", fs.f.Name, "from", synced.UIDNext, "newer", server.len())
	return server, true, nil
}

// serverUIDsFrom lists the UIDs from uid on that the folder holds,
// ascending. "uid:*" also matches the last message when every UID is
// below uid, which is left out.
func (fs *folderSync) serverUIDsFrom(uid uint32) (uidList, error) {
	all, err := fs.searchUIDs(&imap.SearchCriteria{UID: []imap.UIDSet{{imap.UIDRange{Start: imap.UID(uid), Stop: 0}}}})
	if err != nil {
		return uidList{}, err
	}
	return all.from(imap.UID(uid)), nil
}

// recorded notes the rows this sync recorded, for certify, by their
// place in todo; a row of a UID the sync did not ask for counts for
// nothing.
func (fs *folderSync) recorded(rows []archive.Message) {
	for _, r := range rows {
		if i, ok := fs.todo.place(imap.UID(r.UID)); ok {
			fs.done[i/64] |= 1 << (i % 64)
		}
	}
}

// certify returns what the sync certifies: nil unless every UID of
// server below the selected UIDNEXT (and in a tail sync every message
// below the certified UIDNEXT) is archived and present now. Those the
// catalog had are (markGone recorded them present); of todo, those this
// sync recorded.
func (fs *folderSync) certify(server uidList) *archive.IMAPSynced {
	next := uint32(fs.sel.UIDNext)
	if next == 0 || (fs.from > 0 && next < fs.from) {
		return nil
	}
	for i := range fs.todo.below(imap.UID(next)) { // todo's places ascend with its UIDs
		if fs.done[i/64]&(1<<(i%64)) == 0 {
			return nil
		}
	}
	n := uint64(fs.below) + uint64(server.below(imap.UID(next)))
	if n > uint64(^uint32(0)) {
		return nil
	}
	return &archive.IMAPSynced{UIDValidity: fs.sel.UIDValidity, UIDNext: next, Count: uint32(n)}
}
