package restore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"filippo.io/age"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/progress"
	"github.com/mailkeep/mailkeep/transport"
)

// Options configure one restore. Zero values mean sensible defaults.
type Options struct {
	Dial        transport.IMAPDialer // to the target
	Connections int                  // IMAP connections to the target; default 4
	// Folders are the archive folder names to restore, as the source
	// server spelled them; nil means every folder.
	Folders []string
	// AsOf restores the state of a backup run (see archive.AsOf); zero
	// means the latest state.
	AsOf archive.AsOf
	// Messages, when not nil, are the catalog row ids of the only messages
	// to restore, gone from the server or not (Folders is then ignored).
	// Each must have been archived by the AsOf run.
	Messages []int64
	// Into is a folder on the target below which the folders are
	// restored; "/" or the target's delimiter separates its levels.
	Into string
	// Map names where folders go on the target, before any other rule
	// (see Mapping); each From must be a folder or a level of the archive.
	Map []MapRule
	// Labels restores the folders into a Gmail target (X-GM-EXT-1) each
	// message once, into its \All folder, with its labels (see labels.go)
	// instead of once per folder.
	Labels bool
	DryRun bool // find what is missing, change nothing
	Log    *slog.Logger
	// Progress is told what happens; nil means nothing is shown.
	Progress progress.Sink
	Now      func() time.Time
	// Identities decrypt an encrypted archive's messages; a plain archive
	// needs none.
	Identities []age.Identity
	// Snapshot, if set, is read instead of the archive under root (a
	// replica's, for restore --from); the caller closes it.
	Snapshot *archive.Snapshot
}

func (o *Options) setDefaults() {
	if o.Connections <= 0 {
		o.Connections = 4
	}
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

// Result is what a restore did, or with DryRun would do.
type Result struct {
	Run      archive.Run // the backup run whose state was restored; zero for the latest state
	Folders  int         // archive folders restored
	Created  int         // folders created on the target (with DryRun: to create)
	Appended int         // messages appended (with DryRun: to append)
	Skipped  int         // messages the target already held
	Failed   int         // messages not restored
	Bytes    int64       // size of the appended messages
	Labelled int         // with Labels: messages given their labels (appended or found)
	Duration time.Duration
	Failures []error // the first maxFailures failures, per message or folder
	// Mapping is where each folder went (with DryRun: would go), and why.
	Mapping Mapping
}

// maxFailures bounds Result.Failures; Result.Failed counts them all.
const maxFailures = 100

var (
	// ErrPartial is returned (wrapped) when the restore finished but some
	// messages or folders failed.
	ErrPartial = errors.New("restore incomplete")
	// ErrNoFolder reports a requested folder that the archive does not
	// hold at the chosen state.
	ErrNoFolder = errors.New("no such folder in the archive")
	// ErrNoMessage reports a requested message that the archive did not
	// hold at the chosen state.
	ErrNoMessage = errors.New("message not in the archive at this state")
)

// Run restores the archive of the account in <root>/<account> to the
// target that opts.Dial connects to. It opens the archive read-only.
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
	r := &runner{opts: opts, snap: snap, tally: &tally{}}
	err = r.run(ctx)
	if ctx.Err() != nil {
		err = fmt.Errorf("restore interrupted: %w", ctx.Err()) // not the connections' errors it caused
	}
	res := r.tally.result()
	res.Run, res.Folders, res.Created, res.Duration = r.asOf, r.folders, r.created, opts.Now().Sub(start)
	res.Mapping = r.mapping
	if err == nil && len(res.Failures) > 0 {
		err = fmt.Errorf("%w: %d messages not restored, first: %w", ErrPartial, res.Failed, res.Failures[0])
	}
	return res, err
}

// runner is one restore.
type runner struct {
	opts    Options
	snap    *archive.Snapshot
	asOf    archive.Run
	only    map[int64]bool // Options.Messages
	jobs    []*job
	folders int // archive folders restored (several may be one job: Options.Labels)
	created int
	tally   *tally
	mapper  *mapper
	mapping Mapping
}

func (r *runner) run(ctx context.Context) error {
	src, err := r.load(ctx)
	if err != nil {
		return err
	}
	c, err := r.opts.Dial(ctx)
	if err != nil {
		return err
	}
	if err := r.prepare(c, src); err != nil {
		transport.CloseIMAP(c)
		return err
	}
	msgs, bytes := 0, int64(0)
	for _, j := range r.jobs {
		msgs, bytes = msgs+j.src.Count, bytes+j.src.Bytes
	}
	r.opts.Progress.Start(msgs, bytes)
	return r.runWorkers(ctx, c)
}

// source is the archive side of a restore: every folder of the chosen
// state, which of them to restore, and the source's personal prefix.
type source struct {
	folders            []archive.ViewFolder
	selected           func(name string) bool // nil: every folder
	prefix, prefixFrom string
}

// load reads the state to restore from the catalog and selects folders.
func (r *runner) load(ctx context.Context) (source, error) {
	run, err := r.snap.Resolve(ctx, r.opts.AsOf)
	if err != nil {
		return source{}, err
	}
	r.asOf = run
	all, err := r.snap.Folders(ctx, r.view())
	if err != nil {
		return source{}, err
	}
	ns, known, err := r.snap.Namespace(ctx)
	if err != nil {
		return source{}, err
	}
	src := source{folders: all}
	src.prefix, src.prefixFrom = sourceNamespace(ns, known, all)
	for _, rule := range r.opts.Map {
		if !slices.ContainsFunc(all, func(f archive.ViewFolder) bool { return isAtOrBelow(f, rule.From) }) {
			return source{}, fmt.Errorf("%w: --map %q", ErrNoFolder, rule.From)
		}
	}
	if r.opts.Messages != nil {
		return r.selectMessages(ctx, src)
	}
	if r.opts.Folders == nil {
		return src, nil
	}
	want := map[string]bool{}
	for _, name := range r.opts.Folders {
		if !slices.ContainsFunc(all, func(f archive.ViewFolder) bool { return f.Name == name }) {
			return source{}, fmt.Errorf("%w: %q", ErrNoFolder, name)
		}
		want[name] = true
	}
	src.selected = func(name string) bool { return want[name] }
	return src, nil
}

// isAtOrBelow reports whether folder f is the folder or level name, or
// below it.
func isAtOrBelow(f archive.ViewFolder, name string) bool {
	n, fn := normInbox(name), normInbox(f.Name)
	return fn == n || f.Delim != "" && strings.HasPrefix(fn, n+f.Delim)
}

// selectMessages selects the folders of Options.Messages, each counting
// only the messages asked for.
func (r *runner) selectMessages(ctx context.Context, src source) (source, error) {
	r.only = map[int64]bool{}
	want := map[string]bool{}
	src.folders = slices.Clone(src.folders) // counts of the messages asked for
	counted := map[int64]bool{}
	for _, id := range r.opts.Messages {
		m, err := r.snap.MessageByID(ctx, id)
		if err != nil {
			return source{}, err
		}
		i := slices.IndexFunc(src.folders, func(f archive.ViewFolder) bool { return f.ID == m.FolderID })
		if r.asOf.ID != 0 && m.FirstRun > r.asOf.ID || i < 0 {
			return source{}, fmt.Errorf("%w: message %s was archived after run %d", ErrNoMessage, m.Key, r.asOf.ID)
		}
		if r.only[id] {
			continue
		}
		r.only[id] = true
		f := &src.folders[i]
		if !counted[f.ID] {
			f.Count, f.Bytes, counted[f.ID] = 0, 0, true
		}
		f.Count, f.Bytes = f.Count+1, f.Bytes+m.Size
		want[f.Name] = true
	}
	src.selected = func(name string) bool { return want[name] }
	return src, nil
}

// view is the state restored: with Options.Messages, gone messages too.
func (r *runner) view() archive.View {
	v := archive.View{Run: r.asOf.ID}
	if r.opts.Messages != nil {
		v.Gone = archive.GoneToo
	}
	return v
}

// tally counts what happened to messages, from concurrent workers.
type tally struct {
	mu  sync.Mutex
	res Result
}

func (t *tally) add(f func(*Result)) {
	t.mu.Lock()
	f(&t.res)
	t.mu.Unlock()
}

func (t *tally) fail(n int, err error) {
	t.add(func(r *Result) {
		r.Failed += n
		if len(r.Failures) < maxFailures {
			r.Failures = append(r.Failures, err)
		}
	})
}

func (t *tally) result() Result {
	t.mu.Lock()
	defer t.mu.Unlock()
	res := t.res
	res.Failures = slices.Clone(t.res.Failures)
	return res
}
