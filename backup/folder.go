package backup

import (
	"context"
	"fmt"

	"github.com/emersion/go-imap/v2"

	"github.com/mailkeep/mailkeep/archive"
)

// folderSync is the state of one folder's sync in one run.
type folderSync struct {
	w     *worker
	dog   *watchdog
	f     *archive.Folder
	state archive.FolderState
	sel   *imap.SelectData
	known []archive.UIDEntry // the catalog's UIDs of the current UIDVALIDITY from from on, ascending
	// from is where known starts: 0, or in a tail sync the UIDNEXT of the
	// certified last sync, below which every server message is archived
	// and present (below of them; see tail.go).
	from, below uint32
	// todo are the server's UIDs the catalog lacked: those the sync
	// fetches; done has bit i set once the i-th of them is recorded (for
	// certifying the sync: a bit per message, where a list of what was
	// recorded took four bytes).
	todo    uidList
	done    []uint64
	rekey   bool // gone rows exist: new messages are matched to them by content
	condstr bool
	gmail   bool // the server has X-GM-EXT-1: X-GM-MSGID and X-GM-LABELS
}

// folder syncs one server folder into the archive.
func (w *worker) folder(ctx context.Context, sf serverFolder) error {
	w.opts.Progress.Folder(sf.name)
	if sf.unchanged() {
		// Nothing to do on disk either: its directories exist since its
		// first sync, and a crash's temp files wait for its next change.
		w.st.add(func(*archive.RunStats) { w.st.unchanged = append(w.st.unchanged, sf.known.ID) })
		return nil
	}
	f, err := w.a.Folder(sf.name, sf.delim)
	if err != nil {
		return fatal(err)
	}
	if _, err := f.CleanTmp(); err != nil {
		return fatal(fmt.Errorf("clean tmp of %q: %w", sf.name, err))
	}
	state, err := w.a.Catalog.EnsureFolder(ctx, f, w.run)
	if err != nil {
		return fatal(err)
	}
	// A folder that was gone is compared in full: its messages are
	// recorded gone, and those the server lists again become present.
	if !sf.known.Gone && unchanged(state, sf.status) {
		w.st.add(func(*archive.RunStats) { w.st.unchanged = append(w.st.unchanged, state.ID) })
		return nil
	}
	if err := w.connect(ctx); err != nil {
		return err
	}
	fs := &folderSync{w: w, f: f, state: state, condstr: w.c.Caps().Has(imap.CapCondStore),
		gmail: w.c.Caps().Has(capGmail)}
	c := w.c
	fs.dog = watch(w.opts.StallTimeout, func() { c.Close() })
	err = fs.sync(ctx)
	fs.dog.done()
	if err != nil && fs.dog.fired.Load() {
		err = fmt.Errorf("no progress for %v: the server kept answering without delivering messages: %w",
			w.opts.StallTimeout, err)
	}
	return err
}

// unchanged reports, from LIST-STATUS alone, that a folder has not changed
// since the last run: same UIDVALIDITY, UIDNEXT, message count and
// HIGHESTMODSEQ. Without CONDSTORE flag changes are invisible to STATUS,
// so the folder is always opened.
func unchanged(st archive.FolderState, s *imap.StatusData) bool {
	if s == nil || s.NumMessages == nil || s.HighestModSeq == 0 || st.HighestModSeq == 0 {
		return false
	}
	return st.UIDValidity == s.UIDValidity && st.UIDNext == uint32(s.UIDNext) &&
		st.Messages == *s.NumMessages && st.HighestModSeq == s.HighestModSeq
}

func (fs *folderSync) sync(ctx context.Context) error {
	c := fs.w.c
	sel, err := c.Select(fs.f.Name, &imap.SelectOptions{ReadOnly: true, CondStore: fs.condstr}).Wait()
	if err != nil {
		return fmt.Errorf("examine: %w", err)
	}
	fs.sel = sel
	if err := fs.loadCatalog(ctx); err != nil {
		return err
	}
	server, err := fs.compare(ctx)
	if err != nil {
		return err
	}
	if err := fs.markGone(ctx, server); err != nil {
		return err
	}
	fs.todo = fs.missing(server)
	fs.done = make([]uint64, (fs.todo.len()+63)/64)
	if err := fs.fetchNew(ctx, fs.todo); err != nil {
		return err
	}
	if err := fs.syncFlags(ctx, server); err != nil {
		return err
	}
	return fs.saveState(ctx, server)
}

// loadCatalog adopts complete files a crash left without rows and marks
// rows of an old UIDVALIDITY gone.
func (fs *folderSync) loadCatalog(ctx context.Context) error {
	cat, id, uv := fs.w.a.Catalog, fs.state.ID, fs.sel.UIDValidity
	if !fs.w.adopted[id] {
		if err := adoptOrphans(ctx, fs.w.a, fs.f, fs.w.run, id); err != nil {
			return fatal(err)
		}
	}
	retired, other, err := cat.RetireValidity(ctx, id, uv, fs.w.run)
	if err != nil {
		return fatal(err)
	}
	gone, err := cat.HasGone(ctx, id)
	if err != nil {
		return fatal(err)
	}
	// A message whose content the folder holds as gone (renumbered by a
	// new UIDVALIDITY, or put back by a restore) is not stored twice.
	fs.rekey = other || gone
	if retired > 0 {
		fs.w.opts.Log.Warn("UIDVALIDITY changed; matching messages by content", "folder", fs.f.Name,
			"old", fs.state.UIDValidity, "new", uv, "messages", retired)
	}
	return nil
}

// compare reads the UIDs the catalog holds and lists those the server
// holds: all of them, or in a tail sync those from the last sync's UIDNEXT
// on.
func (fs *folderSync) compare(ctx context.Context) (uidList, error) {
	server, ok, err := fs.tail(ctx)
	if err != nil || ok {
		return server, err
	}
	cat, id, uv := fs.w.a.Catalog, fs.state.ID, fs.sel.UIDValidity
	if fs.known, err = cat.UIDs(ctx, id, uv); err != nil {
		return uidList{}, fatal(err)
	}
	return fs.serverUIDs()
}

// serverUIDs lists the UIDs the folder holds now, ascending.
func (fs *folderSync) serverUIDs() (uidList, error) {
	if fs.sel.NumMessages == 0 {
		return uidList{}, nil
	}
	return fs.searchUIDs(&imap.SearchCriteria{})
}

// searchUIDs lists the UIDs that match crit. A server that answers with
// more UIDs than the folder has messages is refused rather than trusted
// with memory.
func (fs *folderSync) searchUIDs(crit *imap.SearchCriteria) (uidList, error) {
	var so *imap.SearchOptions
	if fs.w.c.Caps().Has(imap.CapESearch) {
		so = &imap.SearchOptions{ReturnAll: true}
	}
	data, err := fs.w.c.UIDSearch(crit, so).Wait()
	if err != nil {
		return uidList{}, fmt.Errorf("search uids: %w", err)
	}
	set, _ := data.All.(imap.UIDSet)
	return uidListOf(set, int(fs.sel.NumMessages)+1024)
}

// markGone records messages the server no longer has; they stay archived.
// A message recorded gone that the server lists again under the same
// UIDVALIDITY (its folder was missing from a listing, or renamed away and
// back) is the same message: it is recorded present again, so that no
// retention takes a message the server still has.
func (fs *folderSync) markGone(ctx context.Context, server uidList) error {
	var gone, back []uint32
	for i, k := range fs.known {
		found := server.contains(imap.UID(k.UID))
		switch {
		case !k.Gone && !found:
			gone = append(gone, k.UID)
		case k.Gone && found:
			back = append(back, k.UID)
			fs.known[i].Gone = false
		}
	}
	cat, id, uv := fs.w.a.Catalog, fs.state.ID, fs.sel.UIDValidity
	if err := cat.MarkGoneUIDs(ctx, id, uv, gone, fs.w.run); err != nil {
		return fatal(err)
	}
	if err := cat.MarkPresentUIDs(ctx, id, uv, back, fs.w.run); err != nil {
		return fatal(err)
	}
	fs.w.st.add(func(s *archive.RunStats) { s.Gone += len(gone) })
	return nil
}

// missing lists server UIDs the catalog has no row for.
func (fs *folderSync) missing(server uidList) uidList {
	if fs.from == 0 && len(fs.known) == 0 {
		return server // a first sync: all of them
	}
	var out uidList
	for uid := range server.all() {
		if !fs.isKnown(uid) {
			out.add(uid)
		}
	}
	return out
}

// isKnown reports whether the catalog holds uid, present or gone.
func (fs *folderSync) isKnown(uid imap.UID) bool {
	if uint32(uid) < fs.from {
		return true
	}
	_, found := archive.FindUID(fs.known, uint32(uid))
	return found
}

// saveState records the state the folder was synced to, and certifies it
// for a tail sync next time when nothing was left behind.
func (fs *folderSync) saveState(ctx context.Context, server uidList) error {
	st := fs.state
	st.UIDValidity = fs.sel.UIDValidity
	st.UIDNext = uint32(fs.sel.UIDNext)
	st.HighestModSeq = fs.sel.HighestModSeq
	st.Messages = fs.sel.NumMessages
	if err := fs.w.a.Catalog.ClearRefetched(ctx, st.ID); err != nil {
		return fatal(err)
	}
	return fatal(fs.w.a.Catalog.SetSyncedState(ctx, st, fs.certify(server), fs.w.run))
}
