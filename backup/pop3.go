package backup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/pop3"
	"github.com/mailkeep/mailkeep/transport"
)

// POP3Options configure one POP3 backup run. Zero values mean sensible
// defaults: keep mode, no deletion, a server without UIDL refused.
type POP3Options struct {
	Settings
	Dial transport.POP3Dialer
	// Delete is mode delete: each message is deleted from the server once
	// its file and catalog row are durable.
	Delete bool
	// DeleteAfterDays, in keep mode, deletes messages from the server once
	// they were archived more than this many days (of 24 hours) ago and
	// their archived copy checks out; 0 never.
	DeleteAfterDays int
	// HashWithoutUIDL lets a server without UIDL be backed up: messages are
	// then told apart by a SHA-256 of their header (TOP n 0).
	HashWithoutUIDL bool
}

// pop3Folder is the one folder of a POP3 account's archive.
const pop3Folder = "INBOX"

// POP3 backs up a POP3 maildrop into a's folder INBOX. Messages the
// catalog has not seen are retrieved; in delete mode, and in keep mode
// with DeleteAfterDays, archived messages are deleted from the server, but
// only when the server answers QUIT with +OK after every other step
// succeeded. Any failure before that closes the connection without QUIT,
// so the server keeps every message. The returned error wraps ErrPartial
// when some messages failed and the rest were archived.
func POP3(ctx context.Context, a *archive.Writer, opts POP3Options) (Result, error) {
	opts.Settings.setDefaults()
	start := opts.Now()
	r := &pop3Run{a: a, opts: opts, start: start, st: &stats{}}
	if opts.Dial != nil {
		// The server takes longer to greet and log in than the catalog
		// takes to record the run and prepare the folder: do both at once.
		r.dialed = make(chan pop3Dialed, 1)
		go func() {
			c, err := opts.Dial(ctx)
			r.dialed <- pop3Dialed{c, err}
		}()
		defer r.dropDialed()
	}
	run, err := a.Catalog.BeginRun(ctx, "pop3", start)
	if err != nil {
		return Result{}, err
	}
	r.run = run
	r.st.add(func(s *archive.RunStats) { s.Folders = 1 })
	err = r.do(ctx)
	if r.writers != nil {
		r.writers.close()
	}
	return finish(ctx, a, run, start, r.st, err, opts.Settings)
}

// pop3Dialed is the outcome of the first dial, begun with the run.
type pop3Dialed struct {
	c   *pop3.Client
	err error
}

// pop3Run is the state of one POP3 run that outlives a session.
type pop3Run struct {
	a      *archive.Writer
	opts   POP3Options
	run    int64
	start  time.Time
	st     *stats
	folder *archive.Folder
	state  archive.FolderState
	// writers and chunks stage the sessions' messages (pop3Staging),
	// made on first use.
	writers *writers
	chunks  *chunkPool
	// dialed delivers the first session's client, dialed while the run
	// prepares; nil once taken.
	dialed chan pop3Dialed
}

// dial returns the client dialed at the start of the run, the first time,
// and a new one after that.
func (r *pop3Run) dial(ctx context.Context) (*pop3.Client, error) {
	if r.dialed == nil {
		return r.opts.Dial(ctx)
	}
	d := <-r.dialed
	r.dialed = nil
	return d.c, d.err
}

// dropDialed closes the client dialed at the start of the run if no
// session took it (preparing the archive failed).
func (r *pop3Run) dropDialed() {
	if r.dialed == nil {
		return
	}
	if d := <-r.dialed; d.c != nil {
		d.c.Close()
	}
	r.dialed = nil
}

// do prepares the archive, then runs a session, and once more on a new
// connection after a temporary failure (a dropped connection, a maildrop
// locked by another client). A failure that remains is the run's error
// when nothing was archived; otherwise it is recorded and the run is
// partial.
func (r *pop3Run) do(ctx context.Context) error {
	if r.opts.Dial == nil {
		return errors.New("pop3 backup: no dialer")
	}
	if err := r.prepare(ctx); err != nil {
		r.dropDialed()
		return err
	}
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		err = r.session(ctx)
		if err == nil || isFatal(err) || ctx.Err() != nil || transport.Classify(err) != transport.Temporary {
			break
		}
		r.opts.Log.Warn("retrying the POP3 session after a temporary error", "err", err)
	}
	switch {
	case err == nil:
		return nil
	case isFatal(err), ctx.Err() != nil, r.st.s.NewMessages == 0:
		return err
	}
	r.st.fail(err)
	return nil
}

// prepare opens the folder, removes temp files of an interrupted run and
// adopts complete files that a crash left without catalog rows.
func (r *pop3Run) prepare(ctx context.Context) error {
	r.opts.Progress.Folder(pop3Folder)
	if err := resumePrune(ctx, r.a, r.opts.Log); err != nil {
		return err
	}
	f, err := r.a.Folder(pop3Folder, 0)
	if err != nil {
		return err
	}
	if _, err := f.CleanTmp(); err != nil {
		return fmt.Errorf("clean tmp: %w", err)
	}
	r.folder = f
	if r.state, err = r.a.Catalog.EnsureFolder(ctx, f, r.run); err != nil {
		return err
	}
	// An IMAP sync of this archive certified the folder; this run's gone
	// marks would not be counted by it.
	if err := r.a.Catalog.ForgetSynced(ctx, r.state.ID); err != nil {
		return err
	}
	return adoptOrphans(ctx, r.a, f, r.run, r.state.ID)
}

// session runs one POP3 session from login to QUIT.
func (r *pop3Run) session(ctx context.Context) error {
	c, err := r.dial(ctx)
	if err != nil {
		return err
	}
	s := &pop3Session{pop3Run: r, c: c}
	defer s.close()
	if err := s.sync(ctx); err != nil {
		return err
	}
	if len(s.marked) > 0 {
		// The state is recorded before QUIT deletes anything.
		if err := s.saveState(ctx, nil); err != nil {
			return err
		}
		return s.quit(ctx)
	}
	// Nothing is marked for deletion, so QUIT changes nothing on the
	// server: it ends the session while the catalog records the state.
	quit := make(chan error, 1)
	go func() { quit <- s.quit(ctx) }()
	err = s.saveState(ctx, s.leftListing())
	return errors.Join(err, <-quit)
}

// pop3Session is one connection's work: what the server lists, what the
// catalog knows, and what this session archived and marked for deletion.
type pop3Session struct {
	*pop3Run
	c     *pop3.Client
	ended bool // QUIT was sent
	idx   *pop3Index
	list  []listed
	// listedIDs are the identities of the listing; partialList says that
	// some listed messages could not be identified.
	listedIDs   map[string]bool
	partialList bool
	// known is how many listed messages, from the first, the last run's
	// listing shows to be archived and present (see pop3_known.go);
	// their rows are not read. prev is that listing.
	known int
	prev  archive.POP3Listing
	stage *stager[listed]
	batch archive.Batch
	rows  []archive.Message
	// fresh maps the number of a listed message that this run stored (or
	// found stored under another listed number) to its key; old maps one
	// that an earlier run stored to its row.
	fresh map[int]string
	old   map[int]*archive.POP3Message
	// marked are the keys of the messages marked for deletion (DELE +OK),
	// markedNums their numbers.
	marked     []string
	markedNums map[int]bool
	claims     []archive.UIDLChange // new identities of archived messages, not yet recorded
	resized    int                  // messages whose size differs from what LIST announced
}

// close ends the session without QUIT unless QUIT was sent, and discards
// temp files not yet published.
func (s *pop3Session) close() {
	if !s.ended {
		s.c.Close()
	}
	s.batch.Abort()
}

// load reads the catalog rows the session needs: those of the listed
// messages after the ones the last run's listing vouches for, or, when
// it vouches for none, every row of the folder.
func (s *pop3Session) load(ctx context.Context) error {
	s.fresh, s.old = map[int]string{}, map[int]*archive.POP3Message{}
	trusted, err := s.trustListing(ctx)
	if err != nil {
		return fatal(err)
	}
	if trusted {
		err = s.loadAfterKnown(ctx)
	} else {
		var rows []archive.POP3Message
		rows, err = s.a.Catalog.POP3Messages(ctx, s.state.ID)
		s.idx = newPOP3Index(rows)
	}
	if err != nil {
		return fatal(err)
	}
	s.opts.Log.Debug("catalog rows read", "listed", len(s.list), "known from the last listing", s.known,
		"rows", len(s.idx.byRow))
	return nil
}

// sync lists the maildrop, records what has gone, retrieves what is new
// and marks for deletion what may be deleted; then the session saves the
// folder's state and ends.
func (s *pop3Session) sync(ctx context.Context) error {
	list, err := s.listing(ctx)
	if err != nil {
		return err
	}
	s.list = list
	if err := s.load(ctx); err != nil {
		return err
	}
	p := s.plan()
	if err := s.markPresent(ctx, p); err != nil {
		return err
	}
	if err := s.fetch(ctx, p.fetch); err != nil {
		return err
	}
	if err := s.markGone(ctx); err != nil {
		return err
	}
	if s.resized > 0 {
		s.opts.Log.Warn("messages differ in size from what LIST announced; archived as sent", "messages", s.resized)
	}
	return s.markDeletions(ctx)
}

// saveState records the folder's state after the sync, with the listing
// left on the server for the next run (or none, l nil).
func (s *pop3Session) saveState(ctx context.Context, l *archive.POP3Listing) error {
	st := s.state
	st.Messages = uint32(len(s.list))
	if err := s.a.Catalog.ClearRefetched(ctx, st.ID); err != nil {
		return fatal(err)
	}
	return fatal(s.a.Catalog.SetPOP3State(ctx, st, l, s.run))
}

// errQuit wraps a failed QUIT after deletions were marked.
var errQuit = errors.New("the server did not confirm QUIT; messages marked for deletion may still be on the server")
