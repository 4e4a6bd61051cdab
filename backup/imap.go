package backup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/transport"
)

// IMAP backs up every included folder of an IMAP account into a.
// The returned error wraps ErrPartial when some messages or folders failed
// and the rest were archived.
func IMAP(ctx context.Context, a *archive.Writer, opts Options) (Result, error) {
	opts.setDefaults()
	start := opts.Now()
	// The login takes the server longer than the catalog takes to record
	// the run and list its folders: do both at once.
	dialed := make(chan dialResult, 1)
	go func() {
		c, err := opts.Dial(ctx)
		dialed <- dialResult{c, err}
	}()
	run, err := a.Catalog.BeginRun(ctx, "imap", start)
	if err != nil {
		transport.CloseIMAP((<-dialed).c)
		return Result{}, err
	}
	st := &stats{}
	err = imapRun(ctx, a, opts, run, st, dialed)
	return finish(ctx, a, run, start, st, err, opts.Settings)
}

type dialResult struct {
	c   *imapclient.Client
	err error
}

func imapRun(ctx context.Context, a *archive.Writer, opts Options, run int64, st *stats, dialed <-chan dialResult) error {
	var known []archive.FolderState
	err := resumePrune(ctx, a, opts.Log)
	if err == nil {
		known, err = a.Catalog.Folders(ctx)
	}
	d := <-dialed
	if err != nil || d.err != nil {
		transport.CloseIMAP(d.c)
		return cmp.Or(d.err, err)
	}
	c := d.c
	nsCmd := askNamespace(c)
	folders, err := listFolders(c, opts)
	if err != nil {
		transport.CloseIMAP(c)
		return transport.IMAPError(c, err)
	}
	ns := personalNamespace(nsCmd, opts.Log)
	if err := markGoneFolders(ctx, a, known, folders, run, st); err != nil {
		transport.CloseIMAP(c)
		return err
	}
	st.add(func(s *archive.RunStats) { s.Folders = len(folders) })
	folders, n := plan(folders, known, opts)
	if total, ok := expected(folders); ok {
		opts.Progress.Start(total, -1)
	}
	sh := &shared{down: &outage{}, throttle: &throttle{}, contents: newContents(a),
		writers: newWriters(imapWriters(), opts.Compression)}
	sh.adopted, err = adoptFirst(ctx, a, folders, run)
	if err != nil {
		transport.CloseIMAP(c)
		return err
	}
	err = runWorkers(ctx, a, opts, run, st, c, folders, n, sh)
	if err == nil {
		sh.throttle.result(st)
		err = sh.down.result(st)
	}
	ctx = context.WithoutCancel(ctx)
	return errors.Join(err, fatal(a.Catalog.TouchFolders(ctx, st.unchanged, run)),
		fatal(recordListing(ctx, a, folders, ns)))
}

// plan orders folders by how many bytes a sync may have to fetch, most
// first, so that no big folder is left to run alone at the end while the
// other connections sit idle, and the connection that is already open
// takes the biggest. It also returns how many connections are worth
// opening: a login takes the server tens of milliseconds, and longer
// while the first connection streams, so one connection serves every
// bytesPerConnection expected, up to opts.Connections, and no more than
// there are folders to open.
func plan(folders []serverFolder, known []archive.FolderState, opts Options) ([]serverFolder, int) {
	state := map[string]archive.FolderState{}
	for _, f := range known {
		state[f.Name] = f
	}
	folders = slices.Clone(folders)
	for i := range folders {
		folders[i].known = state[folders[i].name]
	}
	slices.SortStableFunc(folders, func(a, b serverFolder) int { return cmp.Compare(b.work(), a.work()) })
	var work int64
	opened := 0
	for _, f := range folders {
		if f.unchanged() {
			continue
		}
		opened++
		work = addCapped(work, f.work())
	}
	return folders, int(max(1, min(int64(opts.Connections), int64(opened), 1+work/bytesPerConnection)))
}

// expected is how many new messages the run expects to fetch, from
// LIST-STATUS: the total the progress display counts down from. ok is
// false when a folder to open has no status (the server lacks
// LIST-STATUS): the total is then unknown.
func expected(folders []serverFolder) (n int, ok bool) {
	for _, f := range folders {
		s, st := f.status, f.known
		switch {
		case f.unchanged():
		case s == nil || s.NumMessages == nil:
			return 0, false
		case st.ID == 0 || st.UIDValidity != s.UIDValidity:
			n += int(*s.NumMessages)
		default:
			n += int(max(int64(s.UIDNext)-int64(st.UIDNext), 0))
		}
	}
	return n, true
}

// bytesPerConnection is how many expected bytes make another connection
// worth its login (see plan). On the bench's Dovecot, 100 to 1,000 new
// messages (0.7 to 7.7 MiB) came fastest over one or two connections and
// 102 MiB over four.
const bytesPerConnection = 16 << 20

// assumedMessageBytes is the size work assumes for a message when the
// server does not say (no STATUS=SIZE).
const assumedMessageBytes = 64 << 10

// unchanged reports that the catalog knows the folder and LIST-STATUS says
// it has not changed since (see unchanged).
func (f serverFolder) unchanged() bool {
	return f.known.ID != 0 && !f.known.Gone && unchanged(f.known, f.status)
}

// work estimates from LIST-STATUS how many bytes the folder has that the
// catalog does not: all of them when the folder is new or its UIDVALIDITY
// changed, else the UIDs handed out since at the folder's mean message
// size (plus, when its flags must all be fetched, a tenth of the folder
// at a kilobyte a message). A folder without status comes first.
func (f serverFolder) work() int64 {
	s, st := f.status, f.known
	switch {
	case s == nil || s.NumMessages == nil:
		return math.MaxInt64
	case st.ID == 0 || st.UIDValidity != s.UIDValidity:
		if s.Size != nil && *s.Size >= 0 {
			return min(*s.Size, math.MaxInt64/2)
		}
		return int64(*s.NumMessages) * assumedMessageBytes
	}
	mean := int64(assumedMessageBytes)
	if s.Size != nil && *s.Size >= 0 && *s.NumMessages > 0 {
		mean = *s.Size / int64(*s.NumMessages)
	}
	w := mulCapped(max(int64(s.UIDNext)-int64(st.UIDNext), 0), mean)
	if s.HighestModSeq == 0 {
		// Without CONDSTORE the flags of every message are fetched: far
		// cheaper than bodies, but not free.
		w = addCapped(w, int64(*s.NumMessages)/10*1024)
	}
	return w
}

// addCapped and mulCapped add and multiply non-negative numbers, capped
// at half the range: a server's SIZE is not trusted not to overflow.
func addCapped(a, b int64) int64 {
	if b >= math.MaxInt64/2-a {
		return math.MaxInt64 / 2
	}
	return a + b
}

func mulCapped(a, b int64) int64 {
	if a != 0 && b >= math.MaxInt64/2/a {
		return math.MaxInt64 / 2
	}
	return a * b
}

// serverFolder is one selectable folder from LIST.
type serverFolder struct {
	name   string
	delim  rune
	status *imap.StatusData    // from LIST-STATUS, when the server has it
	use    []string            // special-use attributes
	known  archive.FolderState // the catalog's state of it (ID 0: none), set by plan
}

// markGoneFolders records folders the server no longer lists. A folder
// that is merely excluded by the configuration is not gone.
func markGoneFolders(ctx context.Context, a *archive.Writer, known []archive.FolderState, listed []serverFolder, run int64, st *stats) error {
	have := map[string]bool{}
	for _, f := range listed {
		have[f.name] = true
	}
	for _, f := range known {
		if f.Gone || have[f.Name] {
			continue
		}
		n, err := a.Catalog.MarkFolderGone(ctx, f.ID, run)
		if err != nil {
			return err
		}
		st.add(func(s *archive.RunStats) { s.Gone += n })
	}
	return nil
}

// shared is what a run's workers share besides the stats.
type shared struct {
	down     *outage
	throttle *throttle
	contents *contents
	adopted  map[int64]bool // folders whose orphans were adopted before the workers started
	writers  *writers       // write every worker's messages (see stage.go)
}

// imapChunks is each IMAP connection's chunk pool (1 MiB): the writers
// are shared, so a connection needs only enough to keep them busy.
const imapChunks = 16

// imapWriters is how many writers an IMAP run has: one per core, at least
// two so that a connection's reading overlaps the writing, and at most
// four, each holding an encoder.
func imapWriters() int { return min(max(runtime.GOMAXPROCS(0), 2), 4) }

// runWorkers syncs folders, in the given order, over up to n connections;
// c is the first, already open, and takes the first folder.
func runWorkers(ctx context.Context, a *archive.Writer, opts Options, run int64, st *stats, c *imapclient.Client, folders []serverFolder, n int, sh *shared) error {
	queue := make(chan serverFolder, len(folders))
	for _, f := range folders {
		queue <- f
	}
	close(queue)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		w := &worker{a: a, opts: opts, run: run, st: st, down: sh.down, throttle: sh.throttle, contents: sh.contents,
			adopted: sh.adopted, writers: sh.writers, chunks: newChunkPool(imapChunks)}
		var first []serverFolder
		if i == 0 {
			// Taken before the others start: the open connection gets
			// the biggest folder.
			w.c = c
			if f, ok := <-queue; ok {
				first = append(first, f)
			}
		}
		wg.Go(func() { errs[i] = w.drain(ctx, first, queue) })
	}
	wg.Wait()
	sh.writers.close()
	return errors.Join(errs...)
}

// worker syncs folders one at a time over its own connection.
type worker struct {
	a        *archive.Writer
	opts     Options
	run      int64
	st       *stats
	down     *outage
	throttle *throttle
	contents *contents
	adopted  map[int64]bool
	writers  *writers   // the run's, shared by every worker
	chunks   *chunkPool // the worker's connection's
	c        *imapclient.Client
}

// drain syncs the folders of first, then takes folders from the queue until
// it is empty. A folder that fails
// with a temporary error is retried once on a new connection; a folder that
// fails otherwise is recorded and the worker goes on. Once the server is
// given up (see outage), the folders that need it are not tried. Errors
// that stop the whole run (cancellation, the archive failing) are returned.
func (w *worker) drain(ctx context.Context, first []serverFolder, queue <-chan serverFolder) error {
	defer func() {
		if w.c != nil {
			transport.CloseIMAP(w.c)
		}
	}()
	for _, f := range first {
		if err := w.one(ctx, f); err != nil {
			return err
		}
	}
	for f := range queue {
		if err := w.one(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

// one syncs a folder, recording a failure that does not stop the run. A
// server that throttles ends the run's use of it (see throttle): the
// folder's reply is recorded once, as the run's, and no folder is begun
// after.
func (w *worker) one(ctx context.Context, f serverFolder) error {
	if !f.unchanged() && (w.down.skip() || w.throttle.skip()) {
		return nil
	}
	err := w.folderWithRetry(ctx, f)
	if err == nil || errors.Is(err, errThrottleStop) {
		return nil
	}
	if ctx.Err() != nil || isFatal(err) {
		return err
	}
	if transport.Classify(err) == transport.Throttled {
		w.throttle.declare(f.name, err)
		return nil
	}
	w.st.fail(fmt.Errorf("folder %q: %w", f.name, err))
	if w.connLost() {
		transport.CloseIMAP(w.c)
		w.c = nil
	}
	return nil
}

// folderWithRetry syncs a folder, once more on a new connection after a
// temporary error; when the server stalled on both connections, it is
// given up for the rest of the run.
func (w *worker) folderWithRetry(ctx context.Context, f serverFolder) error {
	var err error
	stalls := 0
	for attempt := 0; attempt < 2; attempt++ {
		err = w.folder(ctx, f)
		// go-imap reports a stall as text: IMAPError finds it again.
		err = transport.IMAPError(w.c, err)
		if transport.Stalled(err) {
			stalls++
		}
		if err == nil || ctx.Err() != nil || isFatal(err) || !w.retryNow(err) {
			break
		}
		w.opts.Log.Warn("retrying folder after a temporary error", "folder", f.name, "err", err)
		transport.CloseIMAP(w.c)
		w.c = nil
	}
	if stalls == 2 {
		w.down.declare(f.name, err)
	}
	return err
}

// retryNow reports whether a folder that failed with err is worth another
// try at once on a new connection: after a temporary error or a lost
// connection, never when the server throttles.
func (w *worker) retryNow(err error) bool {
	class := transport.Classify(err)
	return class == transport.Temporary || class != transport.Throttled && w.connLost()
}

// connLost reports whether the worker's connection has closed: whatever
// the client's error said, the folder is worth another try on a new one.
func (w *worker) connLost() bool {
	if w.c == nil {
		return true
	}
	select {
	case <-w.c.Closed():
		return true
	default:
		return false
	}
}

func (w *worker) connect(ctx context.Context) error {
	if w.c != nil {
		return nil
	}
	c, err := w.opts.Dial(ctx)
	if err != nil {
		return err
	}
	w.c = c
	return nil
}

// fatalError marks errors of the archive itself (disk full, catalog
// failure): the run stops rather than losing track of what it wrote.
type fatalError struct{ err error }

func (e fatalError) Error() string { return e.err.Error() }
func (e fatalError) Unwrap() error { return e.err }

func isFatal(err error) bool {
	var fe fatalError
	return errors.As(err, &fe)
}

func fatal(err error) error {
	if err == nil {
		return nil
	}
	return fatalError{err}
}
