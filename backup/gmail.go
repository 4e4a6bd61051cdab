package backup

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailkeep/mailkeep/archive"
)

// capGmail is Gmail's IMAP extension: X-GM-MSGID, the id of a message in
// every folder (label) it shows in, and X-GM-LABELS, its labels.
const capGmail imap.Cap = "X-GM-EXT-1"

var gmailBodyFetch = &imap.FetchOptions{
	UID: true, Flags: true, InternalDate: true, RFC822Size: true, GmailMsgID: true, GmailLabels: true,
	BodySection: []*imap.FetchItemBodySection{{Peek: true}},
}

var gmailMetaFetch = &imap.FetchOptions{UID: true, Flags: true, InternalDate: true, GmailMsgID: true, GmailLabels: true}

// gmailMeta is a message's FETCH answer without its body.
type gmailMeta struct {
	uid    imap.UID
	flags  []string
	date   time.Time
	msgID  uint64
	labels []string
}

// fetchGmail archives the given UIDs of a folder on a server with
// X-GM-EXT-1. For each chunk, it asks for the messages' X-GM-MSGIDs
// first: a message whose content the archive holds (the same id and
// INTERNALDATE) is linked without downloading it; one that another worker
// of the run is downloading waits until this folder's own downloads are
// done, then links to what that worker stored; the rest are downloaded,
// each claimed so that no other worker downloads it too.
func (fs *folderSync) fetchGmail(ctx context.Context, b *pending, chunks iter.Seq[[]imap.UID]) error {
	var waits []waiting
	for chunk := range chunks {
		if fs.w.throttle.stopped() {
			return errThrottleStop
		}
		w, err := fs.gmailChunk(ctx, b, chunk)
		if err != nil {
			return err
		}
		waits = append(waits, w...)
	}
	var later []imap.UID
	for _, w := range waits {
		select {
		case <-w.c.ready:
		case <-ctx.Done():
			return ctx.Err()
		}
		done, err := fs.linkFrom(ctx, b, w.meta, fs.w.contents.runCandidates(w.c, w.meta.date))
		if err != nil {
			return err
		}
		if !done {
			later = append(later, w.meta.uid)
		}
	}
	return fs.fetchBodies(ctx, b, slices.Chunk(later, fetchChunk))
}

// waiting is a message another worker of the run is downloading.
type waiting struct {
	meta gmailMeta
	c    *content
}

// gmailChunk links or downloads one chunk of UIDs and returns the
// messages to wait for. The claims it takes are resolved as the bodies
// are stored, and released once its downloads are done, whatever
// happened: a worker that waits holds no claim, so none waits for another
// that waits for it.
func (fs *folderSync) gmailChunk(ctx context.Context, b *pending, chunk []imap.UID) ([]waiting, error) {
	metas, err := fs.fetchMeta(imap.UIDSetNum(chunk...))
	if err != nil {
		return nil, err
	}
	var download []imap.UID
	var claims []uint64
	defer func() {
		for _, id := range claims {
			fs.w.contents.release(id)
		}
	}()
	var waits []waiting
	got := map[imap.UID]bool{}
	for _, m := range metas {
		got[m.uid] = true
		if m.msgID == 0 {
			download = append(download, m.uid)
			continue
		}
		c, mine := fs.w.contents.claim(m.msgID)
		switch {
		case mine:
			// Claimed before the catalog is asked: the run forgets a
			// content once its row is recorded (contents.recorded), so
			// the catalog has whatever the claim did not find.
			claims = append(claims, m.msgID)
			done, err := fs.linkFromCatalog(ctx, b, m)
			if err != nil {
				return nil, err
			}
			if !done {
				download = append(download, m.uid)
			}
		case c.isReady():
			// Stored by another worker of the run already.
			done, err := fs.linkFrom(ctx, b, m, fs.w.contents.runCandidates(c, m.date))
			if err != nil {
				return nil, err
			}
			if !done {
				download = append(download, m.uid)
			}
		default:
			waits = append(waits, waiting{m, c})
		}
	}
	for _, uid := range chunk {
		if !got[uid] {
			download = append(download, uid) // fetched again, and failed if it stays missing
		}
	}
	return waits, fs.fetchBodies(ctx, b, slices.Chunk(download, fetchChunk))
}

// fetchMeta fetches the UIDs, flags, dates, X-GM-MSGIDs and X-GM-LABELS
// of a set of messages.
func (fs *folderSync) fetchMeta(set imap.UIDSet) ([]gmailMeta, error) {
	cmd := fs.w.c.Fetch(set, gmailMetaFetch)
	defer cmd.Close()
	var out []gmailMeta
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		buf, err := msg.Collect()
		if err != nil {
			return nil, fmt.Errorf("fetch X-GM-MSGID: %w", err)
		}
		if buf.UID == 0 {
			continue
		}
		fs.dog.touch()
		out = append(out, gmailMeta{uid: buf.UID, flags: flagStrings(buf.Flags), date: buf.InternalDate,
			msgID: buf.GmailMsgID, labels: sortedLabels(buf.GmailLabels)})
	}
	if err := cmd.Close(); err != nil {
		return nil, fmt.Errorf("fetch X-GM-MSGID: %w", err)
	}
	return out, nil
}

// linkFromCatalog archives message m as a link to a content of the
// catalog with its X-GM-MSGID and INTERNALDATE; done is false when there
// is none.
func (fs *folderSync) linkFromCatalog(ctx context.Context, b *pending, m gmailMeta) (bool, error) {
	cands, err := fs.w.contents.byGmailMsgID(ctx, m.msgID, m.date)
	if err != nil {
		return false, fatal(err)
	}
	return fs.linkFrom(ctx, b, m, cands)
}

// linkFrom archives message m as a link to the first candidate whose file
// is there; done is false when none is (or links are refused).
func (fs *folderSync) linkFrom(ctx context.Context, b *pending, m gmailMeta, cands []candidate) (bool, error) {
	if m.date.IsZero() || len(cands) == 0 {
		return false, nil
	}
	st, ok, _ := link(fs.f, cands)
	if !ok {
		return false, nil
	}
	return true, b.add(ctx, &fetched{uid: m.uid, flags: m.flags, date: m.date, staged: st,
		msgID: m.msgID, labels: m.labels, notDownloaded: true})
}

// runCandidates is the file of a content the run stored, when it has the
// INTERNALDATE date.
func (cs *contents) runCandidates(c *content, date time.Time) []candidate {
	if !c.ok || !archive.SameDate(c.row.InternalDate, date) {
		return nil
	}
	return cs.candidates(c)
}

// sortedLabels returns labels sorted, so that two answers of the same
// labels compare equal.
func sortedLabels(labels []string) []string {
	out := slices.Clone(labels)
	slices.Sort(out)
	return out
}

// syncLabels records the X-GM-LABELS of archived messages (UID to labels)
// that differ from the catalog's. Labels change like flags do, but the
// file's name does not hold them: only the catalog changes.
func (fs *folderSync) syncLabels(ctx context.Context, labels map[uint32][]string) error {
	if len(labels) == 0 {
		return nil
	}
	uids := slices.Sorted(maps.Keys(labels))
	rows, err := fs.w.a.Catalog.Labels(ctx, fs.state.ID, fs.sel.UIDValidity, uids)
	if err != nil {
		return fatal(err)
	}
	changed := map[int64][]string{}
	for uid, l := range labels {
		if r, ok := rows[uid]; ok && !slices.Equal(r.Labels, l) {
			changed[r.ID] = l
		}
	}
	return fatal(fs.w.a.Catalog.SetLabels(ctx, changed))
}
