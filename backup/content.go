package backup

import (
	"context"
	"errors"
	"io/fs"
	"sync"
	"time"

	"github.com/mailkeep/mailkeep/archive"
)

// Content stored once per account. A message whose content the account's
// archive already holds (the same SHA-256, or the same X-GM-MSGID on a
// server with X-GM-EXT-1) and whose INTERNALDATE is the same is stored as
// a hard link to the file that holds it (archive.Folder.StageLink). The
// archive's catalog finds content whose rows are recorded; contents finds
// what the run's own workers stored and have not recorded yet (staged, or
// published by a batch that is recording its rows), so that two folders
// synced at once store it once as well.
//
// On a server with X-GM-EXT-1 a folder asks for the X-GM-MSGID of its new
// messages before their bodies (see gmail.go). A body is then downloaded
// once per run: the worker that first needs it claims it, and a worker
// that meets the claim of another waits for it (only after its own
// downloads, whose claims it resolves as it stores them, so no two
// workers wait for each other) and links to what the other stored.

// contents is what a run's workers know of the content they stored.
type contents struct {
	a       *archive.Writer
	mu      sync.Mutex
	bySHA   map[[32]byte]*content
	byMsgID map[uint64]*content
	forgot  uint64 // how many times recorded has forgotten contents (see bySHA256)
}

// content is a file of the run that holds a content, or, until ready is
// closed, a claim: a worker is downloading the Gmail message.
type content struct {
	ready chan struct{} // closed once stored (ok) or given up
	ok    bool
	path  string          // the file: staged in tmp/, or published
	next  string          // where a batch is publishing it now, if one is
	row   archive.Message // what a link's row takes from it
}

func newContents(a *archive.Writer) *contents {
	return &contents{a: a, bySHA: map[[32]byte]*content{}, byMsgID: map[uint64]*content{}}
}

func stored(path string, row archive.Message) *content {
	c := &content{ready: make(chan struct{}), ok: true, path: path, row: row}
	close(c.ready)
	return c
}

// stored records a staged file, and resolves the claim of its Gmail
// message: others may link to it from now on.
func (cs *contents) stored(st *archive.Staged, row archive.Message) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.bySHA[row.SHA256] = stored(st.Path(), row)
	if row.GmailMsgID == 0 {
		return
	}
	c, ok := cs.byMsgID[row.GmailMsgID]
	switch {
	case !ok:
		cs.byMsgID[row.GmailMsgID] = stored(st.Path(), row)
	case !c.isReady():
		c.ok, c.path, c.row = true, st.Path(), row
		close(c.ready)
	}
}

// publishing notes, before a batch renames its files, where they go:
// from is the path staged, to the published one. A link to such a file
// tries both. published then makes the new paths the files'.
func (cs *contents) publishing(moves map[string]string) { cs.move(moves, false) }
func (cs *contents) published(moves map[string]string)  { cs.move(moves, true) }

func (cs *contents) move(moves map[string]string, done bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, c := range cs.bySHA {
		c.moved(moves, done)
	}
	for _, c := range cs.byMsgID {
		if c.isReady() {
			c.moved(moves, done)
		}
	}
}

// recorded forgets the contents a batch published once its rows are
// recorded: the catalog finds them from then on, so what the run keeps is
// bounded by its batches in flight, not by what it stored. A worker that
// waits for one keeps it.
func (cs *contents) recorded(moves map[string]string) {
	done := make(map[string]bool, len(moves))
	for _, to := range moves {
		done[to] = true
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.forgot++
	for k, c := range cs.bySHA {
		if done[c.path] {
			delete(cs.bySHA, k)
		}
	}
	for k, c := range cs.byMsgID {
		if c.isReady() && done[c.path] {
			delete(cs.byMsgID, k)
		}
	}
}

func (c *content) moved(moves map[string]string, done bool) {
	to, ok := moves[c.path]
	switch {
	case !ok:
	case done:
		c.path, c.next = to, ""
	default:
		c.next = to
	}
}

func (c *content) isReady() bool {
	select {
	case <-c.ready:
		return true
	default:
		return false
	}
}

// claim returns the run's content of a Gmail message; mine is true when
// there was none and the caller now holds the claim: it must store the
// message (stored) or give it up (release).
func (cs *contents) claim(msgID uint64) (c *content, mine bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c, ok := cs.byMsgID[msgID]; ok {
		return c, false
	}
	c = &content{ready: make(chan struct{})}
	cs.byMsgID[msgID] = c
	return c, true
}

// release gives up a claim that was not stored: a waiter then downloads
// the message itself.
func (cs *contents) release(msgID uint64) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c, ok := cs.byMsgID[msgID]
	if !ok || c.isReady() {
		return
	}
	delete(cs.byMsgID, msgID)
	close(c.ready)
}

// candidates returns where a content is now, and where a batch is
// publishing it.
func (cs *contents) candidates(c *content) []candidate {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return c.places()
}

// places are where c is now, and where a batch is publishing it; the
// caller holds the registry's lock.
func (c *content) places() []candidate {
	out := []candidate{{c.path, c.row}}
	if c.next != "" {
		out = append(out, candidate{c.next, c.row})
	}
	return out
}

// sharing returns where st's content with the INTERNALDATE date is: the
// run's file of it, when a worker stored one, and fromCatalog, the
// catalog's files of it as read when the registry had forgotten forgot
// times. When neither holds it, it records st as the run's file, in the
// same step, so that of two workers storing one content at once the
// second links to the first's. A file of the caller's own is recorded only
// then: one the caller replaces by a link to the catalog's would be
// discarded under the others' feet. again is true when a batch's rows were
// recorded since the catalog was read, and with them contents forgotten:
// the caller reads the catalog again.
func (cs *contents) sharing(st *archive.Staged, date time.Time, fromCatalog []candidate, forgot uint64) (out []candidate, again bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c, ok := cs.bySHA[st.SHA256]
	switch {
	case ok && c.path == st.Path(): // st itself, recorded by a look-up before
		return fromCatalog, false
	case ok && archive.SameDate(c.row.InternalDate, date):
		return append(c.places(), fromCatalog...), false
	case cs.forgot != forgot:
		return nil, true
	case len(fromCatalog) > 0:
		return fromCatalog, false
	}
	cs.bySHA[st.SHA256] = stored(st.Path(), archive.Message{SHA256: st.SHA256, Size: st.Size, VSize: st.VSize,
		MessageID: st.MessageID, InternalDate: date, FileSHA256: st.FileSHA256})
	return nil, false
}

// candidate is a file that holds a content, and its row.
type candidate struct {
	path string
	row  archive.Message
}

// bySHA256 lists the files of the run (see sharing) and of the catalog
// that hold st's content with the INTERNALDATE date. The catalog is read
// first, then the registry, so that a content the catalog holds is not
// also recorded as st's; read again when a batch recorded its rows in
// between (and the registry forgot them).
// After catalogReads reads it gives up: the message is then stored as a
// file of its own, unshared.
func (cs *contents) bySHA256(ctx context.Context, st *archive.Staged, date time.Time) ([]candidate, error) {
	for try := 1; ; try++ {
		cs.mu.Lock()
		forgot := cs.forgot
		cs.mu.Unlock()
		found, err := cs.a.Catalog.ContentBySHA256(ctx, st.SHA256)
		if err != nil {
			return nil, err
		}
		out, again := cs.sharing(st, date, cs.catalogCandidates(found, date), forgot)
		if !again || try == catalogReads {
			return out, nil
		}
	}
}

// catalogReads bounds the reads of bySHA256.
const catalogReads = 8

// byGmailMsgID lists the files of the catalog that hold the Gmail message
// id with the INTERNALDATE date.
func (cs *contents) byGmailMsgID(ctx context.Context, id uint64, date time.Time) ([]candidate, error) {
	found, err := cs.a.Catalog.ContentByGmailMsgID(ctx, id)
	return cs.catalogCandidates(found, date), err
}

func (cs *contents) catalogCandidates(found []archive.Content, date time.Time) []candidate {
	var out []candidate
	for _, ct := range found {
		if !archive.SameDate(ct.InternalDate, date) {
			continue
		}
		p, err := cs.a.ContentPath(ct)
		if err != nil {
			continue
		}
		out = append(out, candidate{p, ct.Message})
	}
	return out
}

// link stages, in f, a link to the first candidate whose file is still
// there. ok is false when none is, or the file system refuses links:
// the caller stores its own copy. gone says that there were candidates
// and none was there any more (renamed or discarded meanwhile).
func link(f *archive.Folder, cands []candidate) (st *archive.Staged, ok, gone bool) {
	for _, c := range cands {
		st, err := f.StageLink(c.path, c.row)
		switch {
		case err == nil:
			return st, true, false
		case errors.Is(err, fs.ErrNotExist):
			continue // renamed or discarded meanwhile: try the next
		default:
			return nil, false, false
		}
	}
	return nil, false, len(cands) > 0
}
