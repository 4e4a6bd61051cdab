package replicate

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/progress"
)

var (
	// ErrPartial is returned (wrapped) when the replica was brought up to
	// date except for messages whose files the archive could not give.
	ErrPartial = errors.New("replica incomplete")
	// ErrForeign reports a replica whose last state is not a run of this
	// archive: it was made from another archive, and replicating into it
	// would remove that archive's mail.
	ErrForeign = errors.New("the replica was made from another archive")
	// ErrBusy reports that another process is replicating the account.
	ErrBusy = errors.New("another mailkeep process is replicating this account")
	// ErrNoRun reports an archive without any run to replicate.
	ErrNoRun = errors.New("the archive has no run yet: back it up first")
)

// Options configure Run. The zero value is usable.
type Options struct {
	// KeepPruned keeps in the replica the messages that the archive no
	// longer has (removed by prune); by default they leave it.
	KeepPruned bool
	Workers    int // messages sent at once; default 4
	Log        *slog.Logger
	Progress   progress.Sink
	Now        func() time.Time
}

func (o *Options) setDefaults() {
	if o.Workers <= 0 {
		o.Workers = 4
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

// Result is what one Run did.
type Result struct {
	Replica     string
	Run         int64 // the newest run of the state the replica now holds
	Messages    int   // catalog rows of that state
	Objects     int   // distinct message objects they name
	Sent        int   // message objects sent
	SentBytes   int64 // their stored (compressed) size
	Present     int   // message objects the replica had already
	Removed     int   // message objects removed (pruned from the archive)
	CatalogSent bool  // false when the replica already held this state
	Missing     []MissingMessage
	Duration    time.Duration
}

// Run brings the replica in st up to date with the archive of account
// under root: it sends the message files the replica lacks, then a copy of
// the catalog, then the manifest that names it; only then does it remove
// what the new state no longer names. It reads the archive through a
// Snapshot and takes no lock of the archive's, so backups go on meanwhile.
func Run(ctx context.Context, root, account string, st Store, opts Options) (Result, error) {
	opts.setDefaults()
	start := opts.Now()
	r := &run{opts: opts, st: st, res: Result{Replica: st.String()}}
	err := r.do(ctx, root, account)
	r.res.Duration = opts.Now().Sub(start)
	if err == nil && len(r.res.Missing) > 0 {
		m := r.res.Missing[0]
		err = fmt.Errorf("%w: %d messages not in the archive, first: folder %q message %s: %s",
			ErrPartial, len(r.res.Missing), m.Folder, m.Key, m.Error)
	}
	return r.res, err
}

// run is one Run.
type run struct {
	opts    Options
	st      Store
	live    *archive.Snapshot // the archive, where files are read
	copy    *archive.Snapshot // the catalog copy, what is replicated
	work    string            // temp directory in the account's archive directory
	res     Result
	bytes   int64      // of the rows' messages, uncompressed
	mu      sync.Mutex // guards res.Sent, res.SentBytes, res.Missing, folders
	folders map[int64]*archive.Folder
}

func (r *run) do(ctx context.Context, root, account string) error {
	live, err := archive.OpenSnapshot(ctx, root, account)
	if err != nil {
		return err
	}
	defer live.Close()
	r.live = live
	unlock, err := lock(live.Dir())
	if err != nil {
		return err
	}
	defer unlock()
	if c, ok := r.st.(interface{ CleanTmp() error }); ok {
		if err := c.CleanTmp(); err != nil {
			return err
		}
	}
	if r.work, err = workDir(live.Dir()); err != nil {
		return err
	}
	defer os.RemoveAll(r.work)
	return r.replicate(ctx)
}

func (r *run) replicate(ctx context.Context) error {
	copyPath := filepath.Join(r.work, "catalog.db")
	if err := r.live.CopyCatalog(ctx, copyPath); err != nil {
		return err
	}
	marker, err := r.live.FormatMarker()
	if err != nil {
		return err
	}
	cp, err := archive.OpenCatalogCopy(ctx, copyPath, marker, nil, nil)
	if err != nil {
		return err
	}
	defer cp.Close()
	r.copy = cp
	last, err := r.lastRun(ctx)
	if err != nil {
		return err
	}
	prev, hadManifest, err := readManifest(ctx, r.st)
	if err != nil {
		return err
	}
	if hadManifest {
		if err := r.checkLineage(ctx, prev); err != nil {
			return err
		}
	}
	have, err := r.listMessages(ctx)
	if err != nil {
		return err
	}
	refs, err := r.sendMessages(ctx, have)
	if err != nil {
		return err
	}
	keep := r.opts.KeepPruned && unnamed(have, refs)
	m, err := r.publish(ctx, copyPath, last, prev, hadManifest, keep)
	if err != nil {
		return err
	}
	if err := r.removeCatalogs(ctx, m); err != nil {
		return err
	}
	return r.removeUnnamed(ctx, have, refs)
}

func (r *run) lastRun(ctx context.Context) (archive.Run, error) {
	runs, err := r.copy.Runs(ctx)
	if err != nil {
		return archive.Run{}, err
	}
	if len(runs) == 0 {
		return archive.Run{}, ErrNoRun
	}
	r.res.Run = runs[0].ID
	return runs[0], nil
}

// checkLineage refuses a replica whose last run this archive does not
// have: the archive was made anew, or the replica belongs to another one.
// A run that prune merged away (runs: N deletes the runs before the oldest
// it keeps) is accepted when every run the archive kept started after it.
func (r *run) checkLineage(ctx context.Context, prev Manifest) error {
	runs, err := r.copy.Runs(ctx) // newest first
	if err != nil {
		return err
	}
	for _, run := range runs {
		if run.ID == prev.Run && run.Started.Equal(prev.RunStarted) {
			return nil
		}
	}
	if oldest := runs[len(runs)-1]; prev.Run < oldest.ID && oldest.Started.After(prev.RunStarted) {
		return nil
	}
	return fmt.Errorf("%s: %w: it holds run %d of %s, which this archive does not have; "+
		"replicate to a new prefix or directory, or remove the replica", r.st, ErrForeign, prev.Run,
		prev.RunStarted.UTC().Format(time.RFC3339))
}

// listMessages returns the message objects the replica holds.
func (r *run) listMessages(ctx context.Context) (map[string]bool, error) {
	have := map[string]bool{}
	err := r.st.List(ctx, messagePrefix, func(name string, _ int64) error {
		have[name] = true
		return nil
	})
	return have, err
}

// lock takes the account's replication lock, beside the archive's own
// (which it never takes: backups go on while a replica is brought up to
// date).
func lock(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "replicate.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("replication lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, ErrBusy
		}
		return nil, fmt.Errorf("replication lock: %w", err)
	}
	return func() { f.Close() }, nil
}

// workDir makes a new temp directory in the account's directory, where
// the catalog copy is made (on the catalog's file system), after removing
// those that interrupted runs left.
func workDir(dir string) (string, error) {
	old, _ := filepath.Glob(filepath.Join(dir, ".replicate-*"))
	for _, o := range old {
		os.RemoveAll(o)
	}
	w, err := os.MkdirTemp(dir, ".replicate-")
	if err != nil {
		return "", fmt.Errorf("replicate: %w", err)
	}
	return w, nil
}

// publish sends the catalog copy and then the manifest that names it,
// unless the replica holds this state already. keepPrev keeps the
// previous state (keep_pruned, and objects are left that the new state
// does not name).
func (r *run) publish(ctx context.Context, copyPath string, last archive.Run, prev Manifest, had, keepPrev bool) (Manifest, error) {
	sum, size, err := fileSum(copyPath)
	if err != nil {
		return Manifest{}, err
	}
	marker, err := r.live.FormatMarker()
	if err != nil {
		return Manifest{}, err
	}
	kept := prev.Kept
	if !r.opts.KeepPruned {
		kept = nil // their objects go with removeUnnamed: never name a state that lacks them
	}
	m := Manifest{Format: manifestFormat, Account: filepath.Base(r.live.Dir()), ArchiveFormat: marker,
		State:      State{CatalogSHA256: sum, CatalogSize: size, Run: last.ID, RunStarted: last.Started},
		RunOutcome: last.Outcome, Messages: r.res.Messages, Objects: r.res.Objects, Bytes: r.bytes,
		Missing: r.res.Missing, Kept: kept, Created: r.opts.Now().UTC()}
	switch {
	case had && prev.CatalogSHA256 == sum && len(prev.Missing) == len(m.Missing) && prev.ArchiveFormat == marker &&
		len(prev.Kept) == len(kept):
		return prev, nil
	case had && prev.CatalogSHA256 == sum:
		m.Catalog = prev.Catalog
	default:
		if m.Catalog, err = r.sendCatalog(ctx, copyPath, m.Created); err != nil {
			return Manifest{}, err
		}
		r.res.CatalogSent = true
		if had && keepPrev {
			m.Kept = append(slices.Clone(prev.Kept), prev.State)
		}
	}
	if err := writeManifest(ctx, r.st, m); err != nil {
		return Manifest{}, err
	}
	r.opts.Log.Debug("manifest written", "replica", r.st.String(), "catalog", m.Catalog, "run", m.Run)
	return m, nil
}

// unnamed reports whether the replica holds message objects that the
// rows do not name.
func unnamed(have map[string]bool, refs map[[32]byte]bool) bool {
	for name := range have {
		if sum, ok := parseMessageName(name); ok && !refs[sum] {
			return true
		}
	}
	return false
}

// sendCatalog compresses the catalog copy and sends it under a new name.
func (r *run) sendCatalog(ctx context.Context, copyPath string, now time.Time) (string, error) {
	zpath := copyPath + ".zst"
	if err := compressFile(copyPath, zpath); err != nil {
		return "", fmt.Errorf("compress catalog copy: %w", err)
	}
	f, err := os.Open(zpath)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	b := make([]byte, 4)
	rand.Read(b)
	name := catalogPrefix + now.UTC().Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(b) + ".db.zst"
	return name, r.st.Put(ctx, name, f, fi.Size())
}

func compressFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	zw, err := zstd.NewWriter(out, zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(true))
	if err != nil {
		out.Close()
		return err
	}
	_, err = io.Copy(zw, in)
	return errors.Join(err, zw.Close(), out.Close())
}

// fileSum returns the hex SHA-256 and the size of a file.
func fileSum(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// removeCatalogs removes every catalog copy but those the manifest names.
func (r *run) removeCatalogs(ctx context.Context, m Manifest) error {
	keep := map[string]bool{m.Catalog: true}
	for _, k := range m.Kept {
		keep[k.Catalog] = true
	}
	var old []string
	err := r.st.List(ctx, catalogPrefix, func(name string, _ int64) error {
		if !keep[name] {
			old = append(old, name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, name := range old {
		if err := r.st.Delete(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// removeUnnamed removes the message objects that the published state does
// not name (their rows were pruned from the archive, or an interrupted run
// sent them for a state that was never published), unless KeepPruned.
func (r *run) removeUnnamed(ctx context.Context, have map[string]bool, refs map[[32]byte]bool) error {
	if r.opts.KeepPruned {
		return nil
	}
	for name := range have {
		sum, ok := parseMessageName(name)
		if !ok || refs[sum] {
			continue // named by the state, or not a message object of ours
		}
		if err := r.st.Delete(ctx, name); err != nil {
			return err
		}
		r.res.Removed++
	}
	return nil
}

// parseMessageName inverts messageName.
func parseMessageName(name string) ([32]byte, bool) {
	var sum [32]byte
	if len(name) != len(messagePrefix)+3+64 {
		return sum, false
	}
	h := name[len(messagePrefix)+3:]
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 32 || messageName([32]byte(b)) != name {
		return sum, false
	}
	return [32]byte(b), true
}
