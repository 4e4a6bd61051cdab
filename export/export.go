package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"filippo.io/age"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/progress"
)

// Format is an export format.
type Format string

const (
	Mbox    Format = "mbox"    // mboxrd, one file per folder
	EML     Format = "eml"     // one file per message
	Maildir Format = "maildir" // the archive's tree, uncompressed
)

// ParseFormat reads a --format value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case Mbox, EML, Maildir:
		return f, nil
	}
	return "", fmt.Errorf("--format %q: want mbox, eml or maildir", s)
}

// Options configure one export. Zero values mean sensible defaults.
type Options struct {
	Format Format
	// To is the directory the export is written into; it is created if
	// missing. Ignored when Stdout is set.
	To string
	// Stdout, for Mbox, receives the mbox of the one selected folder
	// instead of a file under To: more than one folder is ErrOneFolder.
	Stdout io.Writer
	// Match selects folders by their server names; nil selects all.
	Match func(folder string) bool
	// Since and Before select messages by INTERNALDATE: on or after
	// Since, before Before. Zero means no bound.
	Since, Before time.Time
	// AsOf exports the state of a backup run (see archive.AsOf); zero
	// means the latest state.
	AsOf archive.AsOf
	// Gone adds the messages and folders the server had deleted by then.
	Gone bool
	// Messages, when not nil, are the catalog row ids of the only messages
	// to export, gone from the server or not; Match, Since and Before
	// still apply. Each must have been archived by the AsOf run.
	Messages []int64
	Log      *slog.Logger
	// Progress is told what happens; nil means nothing is shown.
	Progress progress.Sink
	Now      func() time.Time
	// Snapshot, if set, is read instead of the archive under root (a
	// replica's, for export --from); the caller closes it.
	Snapshot *archive.Snapshot
	// Identities decrypt an encrypted archive's messages; a plain archive
	// needs none.
	Identities []age.Identity
}

func (o *Options) setDefaults() {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = progress.Nop{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Result is what an export did.
type Result struct {
	Run      archive.Run // the backup run whose state was exported; zero for the latest state
	Folders  int         // folders exported
	Messages int         // messages exported: written, or found in place
	Bytes    int64       // their size
	Present  int         // of Messages, found in place from an earlier export
	Newlines int         // mbox: messages that got a final newline
	Damaged  int         // messages left out: their archive file failed the check
	Problems []error     // the first maxProblems of them
	Duration time.Duration
}

// maxProblems bounds Result.Problems; Result.Damaged counts them all.
const maxProblems = 100

var (
	// ErrProblems is returned (wrapped) when the export finished but left
	// out messages whose archive files are damaged or missing.
	ErrProblems = errors.New("messages could not be exported")
	// ErrNoFolder reports --folder patterns that select no folder.
	ErrNoFolder = errors.New("no folder of the archive matches")
	// ErrOneFolder reports an export to standard output that selects
	// more or fewer than one folder, or is not an mbox.
	ErrOneFolder = errors.New("standard output takes the mbox of exactly one folder")
	// ErrNoMessage reports a requested message that the archive did not
	// hold at the chosen state.
	ErrNoMessage = errors.New("message not in the archive at this state")
)

// Run exports the archive of the account in <root>/<account>. It opens the
// archive read-only.
func Run(ctx context.Context, root, account string, opts Options) (Result, error) {
	opts.setDefaults()
	start := opts.Now()
	snap := opts.Snapshot
	var err error
	if snap == nil {
		if snap, err = archive.OpenSnapshot(ctx, root, account); err != nil {
			return Result{}, err
		}
		defer snap.Close()
	}
	snap.SetIdentities(opts.Identities)
	if err := snap.CheckIdentity(ctx); err != nil {
		return Result{}, err
	}
	r := &runner{opts: opts, snap: snap}
	err = r.run(ctx)
	if ctx.Err() != nil {
		err = fmt.Errorf("export interrupted: %w", ctx.Err())
	}
	r.res.Duration = opts.Now().Sub(start)
	if err == nil && r.res.Damaged > 0 {
		err = fmt.Errorf("%w: %d left out, first: %w", ErrProblems, r.res.Damaged, r.res.Problems[0])
	}
	return r.res, err
}

// runner is one export.
type runner struct {
	opts Options
	snap *archive.Snapshot
	view archive.View
	only map[int64]bool // Options.Messages
	res  Result
}

func (r *runner) run(ctx context.Context) error {
	folders, err := r.load(ctx)
	if err != nil {
		return err
	}
	w, err := r.writer()
	if err != nil {
		return err
	}
	defer w.close()
	if r.opts.Since.IsZero() && r.opts.Before.IsZero() { // else the total is known only at the end
		msgs, bytes := 0, int64(0)
		for _, f := range folders {
			msgs, bytes = msgs+f.Count, bytes+f.Bytes
		}
		r.opts.Progress.Start(msgs, bytes)
	}
	for _, f := range folders {
		if err := r.folder(ctx, w, f); err != nil {
			return err
		}
		r.res.Folders++
	}
	return nil
}

// writer opens the target for the chosen format.
func (r *runner) writer() (format, error) {
	if r.opts.Stdout != nil {
		return &mboxFormat{stdout: r.opts.Stdout}, nil
	}
	t, err := openTree(r.opts.To)
	if err != nil {
		return nil, fmt.Errorf("export directory: %w", err)
	}
	switch r.opts.Format {
	case Mbox:
		return &mboxFormat{t: t}, nil
	case EML:
		return &emlFormat{t: t}, nil
	case Maildir:
		return &maildirFormat{t: t}, nil
	}
	t.close()
	return nil, fmt.Errorf("unknown export format %q", r.opts.Format)
}

// load resolves the state to export and selects its folders.
func (r *runner) load(ctx context.Context) ([]archive.ViewFolder, error) {
	if r.opts.Stdout != nil && r.opts.Format != Mbox {
		return nil, fmt.Errorf("%w: --format %s", ErrOneFolder, r.opts.Format)
	}
	run, err := r.snap.Resolve(ctx, r.opts.AsOf)
	if err != nil {
		return nil, err
	}
	r.res.Run = run
	r.view = archive.View{Run: run.ID}
	if r.opts.Gone || r.opts.Messages != nil {
		r.view.Gone = archive.GoneToo
	}
	all, err := r.snap.Folders(ctx, r.view)
	if err != nil {
		return nil, err
	}
	if r.opts.Messages != nil {
		if all, err = r.selectMessages(ctx, all); err != nil {
			return nil, err
		}
	}
	var folders []archive.ViewFolder
	for _, f := range all {
		if r.opts.Match == nil || r.opts.Match(f.Name) {
			folders = append(folders, f)
		}
	}
	switch {
	case len(folders) == 0 && r.opts.Match != nil:
		return nil, ErrNoFolder
	case r.opts.Stdout != nil && len(folders) != 1:
		return nil, fmt.Errorf("%w: %d folders selected", ErrOneFolder, len(folders))
	}
	return folders, nil
}

// selectMessages keeps the folders of Options.Messages, each counting
// only the messages asked for.
func (r *runner) selectMessages(ctx context.Context, all []archive.ViewFolder) ([]archive.ViewFolder, error) {
	r.only = map[int64]bool{}
	var out []archive.ViewFolder
	for _, id := range r.opts.Messages {
		m, err := r.snap.MessageByID(ctx, id)
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(all, func(f archive.ViewFolder) bool { return f.ID == m.FolderID })
		if r.res.Run.ID != 0 && m.FirstRun > r.res.Run.ID || i < 0 {
			return nil, fmt.Errorf("%w: message %s was archived after run %d", ErrNoMessage, m.Key, r.res.Run.ID)
		}
		if r.only[id] {
			continue
		}
		r.only[id] = true
		j := slices.IndexFunc(out, func(f archive.ViewFolder) bool { return f.ID == m.FolderID })
		if j < 0 {
			out, j = append(out, all[i]), len(out)
			out[j].Count, out[j].Bytes = 0, 0
		}
		out[j].Count, out[j].Bytes = out[j].Count+1, out[j].Bytes+m.Size
	}
	return out, nil
}

// inDates reports whether m's INTERNALDATE is within the bounds.
func (r *runner) inDates(m archive.Message) bool {
	since, before := r.opts.Since, r.opts.Before
	return (since.IsZero() || !m.InternalDate.Before(since)) && (before.IsZero() || m.InternalDate.Before(before))
}

// folder exports the messages of one folder. Its rows are read a page at
// a time (archive.Snapshot.EachMessage), so memory holds one page whatever
// the folder's size; a backup committing meanwhile may show in the pages
// after it.
func (r *runner) folder(ctx context.Context, w format, f archive.ViewFolder) error {
	r.opts.Progress.Folder(f.Name)
	af, err := r.snap.Folder(f.FolderState)
	if err != nil {
		return err
	}
	s, err := w.folder(f, func() ([][]string, error) { return r.snap.FolderFlags(ctx, f.ID, r.view) })
	if err != nil {
		return fmt.Errorf("folder %q: %w", f.Name, err)
	}
	var stopped error
	err = r.snap.EachMessage(ctx, f.ID, r.view, func(m archive.Message) error {
		if stopped = ctx.Err(); stopped != nil {
			return stopped
		}
		if r.only != nil && !r.only[m.ID] || !r.inDates(m) {
			return nil
		}
		return r.message(s, af, f.Name, m)
	})
	if err == nil {
		err = s.finish()
	}
	if err != nil {
		r.lose(s.abort())
		if stopped != nil {
			return stopped
		}
		return fmt.Errorf("folder %q: %w", f.Name, err)
	}
	return nil
}

// lose takes back from the result the messages an abort discarded.
func (r *runner) lose(l tally) {
	r.res.Messages -= l.messages
	r.res.Bytes -= l.bytes
	r.res.Newlines -= l.newlines
}

// message exports one message. A message whose archive file fails the
// check is recorded and left out; any other error ends the export.
func (r *runner) message(s sink, af *archive.Folder, folder string, m archive.Message) error {
	defer r.opts.Progress.Message(m.Size)
	out, err := s.write(m, func() (io.ReadCloser, error) { return af.OpenMessage(m) })
	var re *readError
	if errors.As(err, &re) {
		r.res.Damaged++
		if len(r.res.Problems) < maxProblems {
			r.res.Problems = append(r.res.Problems, fmt.Errorf("%s: %s: %w", folder, m.Key, re.err))
		}
		r.opts.Log.Error("message not exported", "folder", folder, "key", m.Key, "error", re.err)
		return nil
	}
	if err != nil {
		return err
	}
	r.res.Messages++
	r.res.Bytes += m.Size
	if out.present {
		r.res.Present++
	}
	if out.newline {
		r.res.Newlines++
	}
	return nil
}

// format is the target of an export in one format.
type format interface {
	// folder begins a folder. flags returns the sets of flags its
	// messages have, for a format that must know them first (Maildir's
	// keywords).
	folder(f archive.ViewFolder, flags func() ([][]string, error)) (sink, error)
	close() error
}

// sink receives one folder's messages.
type sink interface {
	// write exports one message. A failure to read it from the archive
	// is a *readError, after which the sink takes the next message.
	write(m archive.Message, open func() (io.ReadCloser, error)) (outcome, error)
	// finish makes what the folder got durable and visible.
	finish() error
	// abort discards what finish has not published, and says what it was.
	abort() tally
}

// tally counts exported messages.
type tally struct {
	messages int
	bytes    int64
	newlines int
}

// outcome is what happened to one message.
type outcome struct {
	present bool // it was in place already
	newline bool // mbox: it got a final newline
}

// readError marks a failure to read a message from the archive, as
// opposed to a failure to write the export.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// copyMessage copies the message from its archive stream r to w, telling
// read errors (*readError) from write errors.
func copyMessage(w io.Writer, r io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		k, rerr := r.Read(buf)
		if k > 0 {
			if _, err := w.Write(buf[:k]); err != nil {
				return n, err
			}
			n += int64(k)
		}
		switch {
		case rerr == io.EOF:
			return n, nil
		case rerr != nil:
			return n, &readError{rerr}
		}
	}
}

// openMessage opens a message through open, marking a failure as a read error.
func openMessage(open func() (io.ReadCloser, error)) (io.ReadCloser, error) {
	rc, err := open()
	if err != nil {
		return nil, &readError{err}
	}
	return rc, nil
}
