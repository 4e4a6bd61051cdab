package restore

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/transport"
)

// maxIdleAttempts is how many times in a row a folder may lose its
// connection without settling a single message before it is given up.
const maxIdleAttempts = 3

// job is one archive folder and its name on the target.
type job struct {
	src    archive.ViewFolder
	target string
	exists bool           // the target folder exists (false before creation, and in a dry run)
	skip   error          // why the folder cannot be restored at all, if it cannot
	fm     *FolderMapping // where the mapping put it, and why
	labels *labelJob      // the folders restored as labels into the target's \All folder (Options.Labels)
}

// runWorkers restores the folders over up to opts.Connections
// connections, largest folders first; first is the first connection. A
// folder is restored by one connection, in the order of the archive, so
// that the target's UIDs follow the original order. Servers serialize
// APPENDs to one mailbox anyway (Dovecot locks it per APPEND): splitting
// a folder over connections would scramble the order and gain nothing.
// Before any folder is scanned, the target must be quiet (awaitQuiet);
// the other connections log in meanwhile.
func (r *runner) runWorkers(ctx context.Context, first *imapclient.Client) error {
	jobs := slices.Clone(r.jobs)
	slices.SortStableFunc(jobs, func(a, b *job) int { return cmp.Compare(b.src.Count, a.src.Count) })
	queue := make(chan *job, len(jobs))
	for _, j := range jobs {
		queue <- j
	}
	close(queue)
	n := max(min(r.opts.Connections, len(jobs)), 1)
	errs := make([]error, n)
	ready := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		w := &worker{r: r, ready: ready}
		if i == 0 {
			w.c = first
		}
		wg.Go(func() { errs[i] = w.drain(ctx, queue, i == 0) })
	}
	if !r.opts.DryRun {
		// On failure worker 0 finds out for itself: a lost connection is
		// resumed, a cancelled run stops.
		if err := awaitQuiet(ctx, first, r.existingTargets(), false, r.opts.Log); err != nil && ctx.Err() == nil {
			r.opts.Log.Warn("could not check that the target is quiet", "err", err)
		}
	}
	close(ready)
	wg.Wait()
	return errors.Join(errs...)
}

// existingTargets lists the target folders that exist and will be restored.
func (r *runner) existingTargets() []string {
	var out []string
	for _, j := range r.jobs {
		if j.exists && j.skip == nil {
			out = append(out, j.target)
		}
	}
	return out
}

// worker restores folders one at a time over its own connection.
type worker struct {
	r     *runner
	c     *imapclient.Client
	ready <-chan struct{} // closed when folders may be scanned
	// buf holds a message up to bufferLimit while it is verified and
	// sent, for every folder of the worker: grown (and cleared) once.
	buf bytes.Buffer
	mdb *matchDB // where folders are matched, one after the other
}

// drain restores folders from the queue until it is empty. A folder that
// fails is recorded and the worker goes on; cancellation and a refused
// login stop the run. Workers other than the first only start when their
// connection opens, so a server that limits connections per user slows
// the restore but does not fail it.
func (w *worker) drain(ctx context.Context, queue <-chan *job, first bool) error {
	defer func() { transport.CloseIMAP(w.c) }()
	mdb, err := openMatchDB(ctx)
	if err != nil {
		return err
	}
	defer mdb.Close()
	w.mdb = mdb
	if !first {
		if err := w.connect(ctx); err != nil {
			if ctx.Err() == nil && !errors.Is(err, transport.ErrAuth) {
				w.r.opts.Log.Warn("an additional connection failed; going on with fewer", "err", err)
				return nil
			}
			return err
		}
	}
	<-w.ready
	for j := range queue {
		fr, err := w.r.newFolderRun(ctx, j)
		fr.buf, fr.mdb = &w.buf, w.mdb
		if err == nil {
			err = w.mdb.reset(ctx)
		}
		if err == nil {
			w.r.opts.Progress.Folder(j.src.Name)
			err = w.folder(ctx, fr)
		}
		if err == nil {
			continue
		}
		if ctx.Err() != nil || errors.Is(err, transport.ErrAuth) {
			return err
		}
		fr.failRest(fmt.Errorf("folder %q: %w", j.src.Name, err))
	}
	return nil
}

func (w *worker) connect(ctx context.Context) error {
	if w.c != nil {
		return nil
	}
	c, err := w.r.opts.Dial(ctx)
	if err != nil {
		return err
	}
	w.c = c
	return nil
}

// folder restores one folder. When the connection is lost, the folder is
// resumed on a new one: scanned again, so that whatever the server stored
// meanwhile is not sent twice.
func (w *worker) folder(ctx context.Context, fr *folderRun) error {
	if fr.lazy && !fr.job.exists && w.c != nil && appendLimit(w.c) < 0 {
		fr.tallyWhole()
		return nil
	}
	idle := 0
	for {
		if err := w.connect(ctx); err != nil {
			return err
		}
		fr.c = w.c
		before := fr.count()
		err := fr.attempt()
		if err == nil || ctx.Err() != nil {
			return errors.Join(err, ctx.Err())
		}
		if !retryNow(err, w.c) {
			return err
		}
		transport.CloseIMAP(w.c)
		w.c = nil
		if fr.count() > before {
			idle = 0
		} else if idle++; idle == maxIdleAttempts {
			return err
		}
		w.r.opts.Log.Warn("connection lost; resuming the folder on a new connection",
			"folder", fr.job.target, "err", err)
	}
}

// retryNow reports whether a folder that failed with err over c is worth
// resuming at once on a new connection: after a temporary error or a lost
// connection, never when the server throttles.
func retryNow(err error, c *imapclient.Client) bool {
	class := transport.Classify(err)
	return class == transport.Temporary || class != transport.Throttled && (errors.Is(err, errConnLost) || closed(c))
}

// folderRun is the restore of one folder, across connection attempts.
type folderRun struct {
	ctx     context.Context
	r       *runner
	log     *slog.Logger
	job     *job
	folders map[int64]*archive.Folder // by id: the folder, or the folders merged for labels
	// filled: the folder's list is in mdb (with labels, the merged
	// folders' messages); its rows are read a page at a time as they are
	// sent.
	filled bool
	c      *imapclient.Client
	uids   []imap.UID // with labels: each message's UID on the target, once known
	noUID  atomic.Int64

	// lazy: a dry run, whose list is read only when the target folder
	// holds messages to match it with. Into a folder the target lacks,
	// or holds empty, every message of the view would go: the folder's
	// count and size say so (tallyWhole), unless the target announces an
	// APPENDLIMIT, which each message's size is to be held against.
	lazy bool
	// limit is the target's APPENDLIMIT, -1 for none, read at each
	// attempt: a larger message is not sent, and a dry run counts it as
	// failing.
	limit int64

	buf     *bytes.Buffer // a message read and verified before its APPEND: the worker's
	mdb     *matchDB      // the worker's
	unknown atomic.Bool   // a lost connection left APPENDs of unknown fate

	mu      sync.Mutex // guards settled and nSettle
	settled []bool     // the message is counted: appended, present or failed
	nSettle int
}

// newFolderRun opens the folder's Maildir, or for a restore with labels
// the merged folders'. A folder that cannot be restored comes back with
// its error. The folder's list is read later, into the
// match database (fill): a dry run reads it only to match it with what
// the target holds, so it reads none for a folder the target lacks or
// holds empty (lazy).
func (r *runner) newFolderRun(ctx context.Context, j *job) (*folderRun, error) {
	fr := &folderRun{ctx: ctx, r: r, log: r.opts.Log, job: j}
	fr.lazy = r.opts.DryRun && j.skip == nil && j.labels == nil && r.only == nil
	if fr.lazy && !j.exists {
		return fr, nil
	}
	fr.settled = make([]bool, j.src.Count)
	if j.labels != nil {
		return fr, fr.openLabelFolders()
	}
	if j.skip != nil {
		return fr, j.skip
	}
	f, err := r.snap.Folder(j.src.FolderState)
	fr.folders = map[int64]*archive.Folder{j.src.ID: f}
	return fr, err
}

// fill writes the folder's list into the match database, once per folder:
// the messages merged for labels, or the identities of the folder's
// messages in the view (of --message, when given), from one query.
func (fr *folderRun) fill() error {
	if fr.filled {
		return nil
	}
	if fr.job.labels != nil {
		return fr.fillLabels()
	}
	r, n := fr.r, 0
	err := fr.mdb.addArchive(fr.ctx, func(add func(int, archive.Identity) error) error {
		return r.snap.EachIdentity(fr.ctx, fr.job.src.ID, r.view(), func(m archive.Identity) error {
			if r.only != nil && !r.only[m.ID] {
				return nil
			}
			n++
			return add(n-1, m)
		})
	})
	if err != nil {
		return err
	}
	fr.mu.Lock()
	fr.settled, fr.filled = make([]bool, n), true
	fr.mu.Unlock()
	return nil
}

// messages returns the archive messages of ps, in order; a message whose
// row the catalog no longer holds is counted as failed and left out.
func (fr *folderRun) messages(ps []place) ([]indexed, error) {
	out := make([]indexed, 0, len(ps))
	ids := make([]int64, len(ps))
	for k, p := range ps {
		ids[k] = p.row
	}
	ms, err := fr.r.snap.MessagesOf(fr.ctx, ids, fr.r.view())
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]archive.Message, len(ms))
	for _, m := range ms {
		byID[m.ID] = m
	}
	for _, p := range ps {
		m, ok := byID[p.row]
		if !ok {
			gone := archive.Message{ID: p.row, Key: fmt.Sprintf("of catalog row %d", p.row), MessageID: "unknown"}
			fr.failed(p.i, gone, errors.New("no longer in the archive (pruned meanwhile)"))
			continue
		}
		out = append(out, indexed{p.i, m})
	}
	return out, nil
}

// indexed is a message of the folder's list and its place.
type indexed struct {
	i int
	m archive.Message
}

// open opens the archived content of message m, from its folder.
func (fr *folderRun) open(m archive.Message) (io.ReadCloser, error) {
	f, ok := fr.folders[m.FolderID]
	if !ok || f == nil {
		return nil, fmt.Errorf("%s: no folder %d", m.Key, m.FolderID)
	}
	return f.OpenMessage(m)
}

// attempt scans the target folder, works out what it lacks and appends it.
func (fr *folderRun) attempt() error {
	fr.limit = appendLimit(fr.c) // asked once: the capabilities hold for the connection
	n, err := fr.scan()
	if err != nil {
		return err
	}
	if fr.lazy && !fr.filled && n == 0 && fr.limit < 0 { // every message would be appended
		fr.tallyWhole()
		return deselect(fr.c)
	}
	if err := fr.fill(); err != nil {
		return err
	}
	if n > 0 {
		if err := fr.mdb.resolve(fr.ctx, fr.hashTarget, fr.archiveHash); err != nil {
			return err
		}
	}
	if err := fr.settlePresent(); err != nil {
		return err
	}
	if fr.r.opts.DryRun {
		if err := fr.tallyMissing(); err != nil {
			return err
		}
		if fr.job.exists {
			return deselect(fr.c)
		}
		return nil
	}
	if err := fr.appendAll(); err != nil || fr.job.labels == nil {
		return err
	}
	return fr.applyLabels()
}

func (fr *folderRun) hashTarget(uids []imap.UID) (map[imap.UID][32]byte, error) {
	return hashTarget(fr.c, uids)
}

// deselect leaves the selected folder: with UNSELECT, or with CLOSE where
// the server lacks it. CLOSE expunges the messages marked \Deleted of a
// folder selected read-write: use it only after EXAMINE.
func deselect(c *imapclient.Client) error {
	if c.Caps().Has(imap.CapUnselect) {
		if err := c.Unselect().Wait(); err != nil {
			return fmt.Errorf("unselect: %w", err)
		}
		return nil
	}
	if err := c.UnselectAndExpunge().Wait(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}

// scan lists what the target folder holds into the match database, and
// returns how many messages it holds. It SELECTs the folder, and the
// APPENDs go to it while it stays selected: Dovecot then saves into the
// mailbox it has open, where an APPEND to another mailbox opens, syncs and
// closes that mailbox each time (a fifth of the server's CPU for a
// restore, measured; mbsync, too, SELECTs before it appends). Courier
// refuses an APPEND into a folder selected read-only ("NO Current box is
// selected READ-ONLY"), so the SELECT is read-write; the scan only PEEKs,
// no command of a restore changes a flag or expunges, and the folder is
// left by selecting the next one or by LOGOUT, never by CLOSE, which
// would expunge restored messages marked \Deleted. A dry run EXAMINEs.
func (fr *folderRun) scan() (int, error) {
	if !fr.job.exists {
		return 0, nil
	}
	if fr.unknown.Load() {
		if err := fr.settle(); err != nil {
			return 0, err
		}
		fr.unknown.Store(false)
	}
	sel, err := fr.c.Select(fr.job.target, &imap.SelectOptions{ReadOnly: fr.r.opts.DryRun}).Wait()
	if err != nil {
		return 0, fmt.Errorf("select %q: %w", fr.job.target, err)
	}
	if err := fr.mdb.resetHeld(fr.ctx); err != nil {
		return 0, err
	}
	return fr.mdb.addHeld(fr.ctx, func(add func(held) error) error {
		return scanTarget(fr.c, sel.NumMessages, add)
	})
}

// settle waits until the folder stops changing, before a resumed scan:
// the server may still be storing APPENDs it had received whole on the
// lost connection.
func (fr *folderRun) settle() error {
	return awaitQuiet(fr.ctx, fr.c, []string{fr.job.target}, true, fr.log)
}

// archiveHash is the content hash of archive message i, catalog row row.
// A message the archive cannot give back compares equal to nothing;
// sending it later reports the damage.
func (fr *folderRun) archiveHash(i int, row int64) ([32]byte, error) {
	ms, err := fr.messages([]place{{i, row}})
	if err != nil || len(ms) == 0 {
		return [32]byte{}, err
	}
	rc, err := fr.open(ms[0].m)
	if err != nil {
		return [32]byte{}, nil
	}
	defer rc.Close()
	h := newContentHash()
	if _, err := io.Copy(h, rc); err != nil {
		return [32]byte{}, nil
	}
	return h.Sum(), nil
}

// settlePresent counts the messages the target holds (and did not get
// from this run) as skipped, and records the target UID of each for
// labels.
func (fr *folderRun) settlePresent() error {
	skipped := 0
	err := fr.mdb.each(fr.ctx, func(i int, uid imap.UID, size int64) error {
		if uid == 0 {
			return nil
		}
		fr.setUID(i, uid)
		fr.mu.Lock()
		defer fr.mu.Unlock()
		if !fr.settled[i] {
			fr.settleLocked(i, size)
			skipped++
		}
		return nil
	})
	fr.r.tally.add(func(r *Result) { r.Skipped += skipped })
	return err
}

// tallyMissing counts, in a dry run, the messages the target lacks as to
// be appended, or as failing where they exceed the target's APPENDLIMIT.
func (fr *folderRun) tallyMissing() error {
	if fr.limit >= 0 {
		return fr.tallyLimited()
	}
	return fr.mdb.each(fr.ctx, func(i int, uid imap.UID, size int64) error {
		if uid == 0 {
			fr.appended(i, size)
		}
		return nil
	})
}

// tallyLimited counts, in a dry run into a target with an APPENDLIMIT,
// the messages the target lacks: as failing where the real run would not
// send them, as to be appended otherwise. It reads their rows for their
// sizes and names, a page at a time, as the real run does.
func (fr *folderRun) tallyLimited() error {
	for after := -1; ; {
		page, last, err := fr.toSend(after)
		if err != nil || last < 0 {
			return err
		}
		after = last
		for _, t := range page {
			if err := overLimit(t.m.Size, fr.limit); err != nil {
				fr.failed(t.i, t.m, err)
				continue
			}
			fr.appended(t.i, t.m.Size)
		}
	}
}

func (fr *folderRun) settleLocked(i int, size int64) {
	fr.settled[i] = true
	fr.nSettle++
	fr.r.opts.Progress.Message(size)
}

// tallyWhole counts every message of the folder as to be appended, from
// the view's count and size of the folder. Progress gets the size
// spread over the messages.
func (fr *folderRun) tallyWhole() {
	n, bytes := fr.job.src.Count, fr.job.src.Bytes
	fr.r.tally.add(func(r *Result) { r.Appended += n; r.Bytes += bytes })
	for i := range n {
		size := bytes / int64(n)
		if i == 0 {
			size += bytes % int64(n)
		}
		fr.r.opts.Progress.Message(size)
	}
}

func (fr *folderRun) appended(i int, size int64) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if fr.settled[i] {
		return
	}
	fr.settleLocked(i, size)
	fr.r.tally.add(func(r *Result) { r.Appended++; r.Bytes += size })
}

func (fr *folderRun) failed(i int, m archive.Message, err error) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if fr.settled[i] {
		return
	}
	fr.settleLocked(i, m.Size)
	err = fmt.Errorf("folder %q, message %s (%s): %w", fr.job.src.Name, m.Key, describe(m), err)
	fr.log.Warn("message not restored", "err", err)
	fr.r.tally.fail(1, err)
}

// failRest counts every message not yet settled as failed, with one error.
func (fr *folderRun) failRest(err error) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	n := 0
	for i := range fr.settled {
		if !fr.settled[i] {
			fr.settleLocked(i, 0)
			n++
		}
	}
	fr.log.Warn("folder not restored", "messages", n, "err", err)
	fr.r.tally.fail(n, err)
}

func (fr *folderRun) count() int {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	return fr.nSettle
}

// describe names a message for a person: its Message-ID or its date and size.
func describe(m archive.Message) string {
	if m.MessageID != "" {
		return m.MessageID
	}
	return fmt.Sprintf("%d bytes of %s", m.Size, m.InternalDate.Format("2006-01-02 15:04:05 -0700"))
}
