package archive

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// ErrPruned reports that a message (or a folder) was pruned from the
// archive after its catalog row was read: a reader that was handed the row
// and opens the message only now gets this error. A stream it had opened
// before keeps reading to its end.
var ErrPruned = errors.New("pruned from the archive")

// prunedEntry is one pending row of the pruned table: a message (key) or
// a folder (key "") whose catalog rows a prune deleted and whose file or
// directory may still be on the disk.
type prunedEntry struct {
	folderID int64
	folder   string // the server's name
	dir      string // relative to mail/, slash-separated
	key      string
}

// leftover is what a pending entry still has on the disk.
type leftover struct {
	prunedEntry
	path string
	size int64 // the disk space its removal frees (see freedBytes)
}

// pendingPruned returns the pending entries of every prune.
func (c *Catalog) pendingPruned(ctx context.Context) ([]prunedEntry, error) {
	if c.version < pruneSchema {
		return nil, nil
	}
	rows, err := c.db.QueryContext(ctx, `SELECT folder_id, folder, dir, key FROM pruned WHERE done = 0
		ORDER BY dir, key`)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []prunedEntry
	for rows.Next() {
		var e prunedEntry
		if err := rows.Scan(&e.folderID, &e.folder, &e.dir, &e.key); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// PendingPruned returns the keys of a folder's messages that a prune took
// out of the catalog and whose files may still be in cur/: such a file is
// not an orphan, and is never adopted.
func (c *Catalog) PendingPruned(ctx context.Context, folderID int64) (map[string]bool, error) {
	if c.version < pruneSchema {
		return nil, nil
	}
	rows, err := c.db.QueryContext(ctx, `SELECT key FROM pruned WHERE done = 0 AND folder_id = ? AND key != ''`, folderID)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		out[k] = true
	}
	return out, rows.Err()
}

// ResumeResult is what ResumePrune removed.
type ResumeResult struct {
	Leftovers     int   // files and folder directories
	LeftoverBytes int64 // their size on disk
}

// ResumePrune finishes what an interrupted prune left: it deletes every
// file and folder directory that a pending entry lists, fsyncs their
// directories, and marks the entries done. A prune, every backup (before
// it adopts anything) and verify --repair call it first; with nothing
// pending it costs one query. The caller holds the lock.
func (a *Writer) ResumePrune(ctx context.Context) (ResumeResult, error) {
	var res ResumeResult
	if a.Catalog.version < pruneSchema {
		return res, nil
	}
	var running, pending bool
	err := a.Catalog.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM prunes WHERE outcome = ?),
		EXISTS (SELECT 1 FROM pruned WHERE done = 0)`, OutcomeRunning).Scan(&running, &pending)
	if err != nil || !running && !pending {
		return res, wrapCatalog(err)
	}
	if running {
		if err := a.Catalog.interruptPrunes(ctx); err != nil {
			return res, err
		}
	}
	return a.resumePending(ctx)
}

// interruptPrunes records that the prunes left running were interrupted:
// the caller holds the lock, so their process is gone.
func (c *Catalog) interruptPrunes(ctx context.Context) error {
	return c.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE prunes SET outcome = ? WHERE outcome = ?`, OutcomeInterrupted, OutcomeRunning)
		return err
	})
}

func (a *Writer) resumePending(ctx context.Context) (ResumeResult, error) {
	var res ResumeResult
	pending, err := a.Catalog.pendingPruned(ctx)
	if err != nil || len(pending) == 0 {
		return res, err
	}
	lo, err := a.removeLeftovers(ctx, pending, nil)
	res.Leftovers = len(lo)
	for _, l := range lo {
		res.LeftoverBytes += l.size
	}
	return res, err
}

// removePending deletes what the pending entries list and returns the
// bytes it freed on disk.
func (a *Writer) removePending(ctx context.Context, removed func(leftover)) (int64, error) {
	pending, err := a.Catalog.pendingPruned(ctx)
	if err != nil || len(pending) == 0 {
		return 0, err
	}
	lo, err := a.removeLeftovers(ctx, pending, removed)
	var n int64
	for _, l := range lo {
		n += l.size
	}
	return n, err
}

// removeLeftovers deletes the message files, then the folder directories,
// that pending lists, fsyncs the directories they were in, and only then
// marks every entry of pending done. Each deletion may be repeated: a
// crash before the entries are marked leaves them for the next resume.
func (a *Writer) removeLeftovers(ctx context.Context, pending []prunedEntry, removed func(leftover)) ([]leftover, error) {
	lo, err := leftovers(a.Dir, pending)
	if err != nil {
		return nil, err
	}
	var files []leftover
	dirs := map[string]bool{}
	for _, l := range lo {
		if l.key != "" {
			files = append(files, l)
			dirs[filepath.Dir(l.path)] = true
		}
	}
	done, err := removeFiles(files)
	if removed != nil {
		for _, l := range done {
			removed(l)
		}
	}
	if err != nil {
		return done, err
	}
	for d := range dirs {
		if err := SyncDir(d); err != nil {
			return done, err
		}
	}
	for _, l := range lo {
		if l.key != "" {
			continue
		}
		if err := ctx.Err(); err != nil {
			return done, err
		}
		if err := removeFolderDir(a.MailDir(), l.path); err != nil {
			return done, fmt.Errorf("prune folder %q: %w", l.folder, err)
		}
		done = append(done, l)
		if removed != nil {
			removed(l)
		}
	}
	// Every pending entry was read under the lock: all are done now.
	wctx := context.WithoutCancel(ctx)
	return done, a.Catalog.tx(wctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(wctx, `UPDATE pruned SET done = 1 WHERE done = 0`)
		return err
	})
}

// unlinkParallel is how many files removeFiles unlinks at once: an unlink
// that waits for the filesystem's journal lets others join the same
// transaction (the batch's fsyncs do the same, see durable.Parallel).
const unlinkParallel = 8

// removeFiles unlinks files, unlinkParallel at a time, and returns those
// that are gone (a file already gone counts), in their order.
func removeFiles(files []leftover) ([]leftover, error) {
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	sem := make(chan struct{}, unlinkParallel)
	for i, l := range files {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := os.Remove(l.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs[i] = fmt.Errorf("prune %s: %w", l.key, err)
			}
		}()
	}
	wg.Wait()
	var done []leftover
	for i, l := range files {
		if errs[i] == nil {
			done = append(done, l)
		}
	}
	return done, errors.Join(errs...)
}

// leftovers lists what pending entries still have on the disk of the
// account directory dir: each message file (found by its key in its
// folder's cur/, whatever its flags) and each folder's Maildir.
func leftovers(dir string, pending []prunedEntry) ([]leftover, error) {
	byDir := map[string]map[string]prunedEntry{}
	var out []leftover
	for _, e := range pending {
		rel := filepath.FromSlash(e.dir)
		if !filepath.IsLocal(rel) {
			return nil, fmt.Errorf("pruned folder %q: catalog dir %q lies outside the archive", e.folder, e.dir)
		}
		maildir := filepath.Join(dir, mailDir, rel, MaildirLevel)
		if e.key == "" {
			if _, err := os.Lstat(maildir); err == nil {
				out = append(out, leftover{prunedEntry: e, path: maildir})
			}
			continue
		}
		if byDir[maildir] == nil {
			byDir[maildir] = map[string]prunedEntry{}
		}
		byDir[maildir][e.key] = e
	}
	var files []leftover
	var infos []fs.FileInfo
	for maildir, keys := range byDir {
		found, fi, err := keyFiles(filepath.Join(maildir, "cur"), keys)
		if err != nil {
			return nil, err
		}
		files, infos = append(files, found...), append(infos, fi...)
	}
	// A file whose content another name keeps (a hard link in another
	// folder, see StageLink) frees nothing when it goes.
	for i, n := range freedBytes(infos) {
		files[i].size = n
	}
	return append(files, out...), nil
}

// keyFiles lists the files of cur whose keys are in keys, with their
// FileInfo (nil for one gone meanwhile).
func keyFiles(cur string, keys map[string]prunedEntry) ([]leftover, []fs.FileInfo, error) {
	entries, err := os.ReadDir(cur)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var out []leftover
	var infos []fs.FileInfo
	for _, de := range entries {
		mf, err := ParseMessageFile(de.Name())
		e, ok := keys[mf.Key]
		if err != nil || !ok {
			continue
		}
		fi, _ := de.Info()
		out = append(out, leftover{prunedEntry: e, path: filepath.Join(cur, de.Name())})
		infos = append(infos, fi)
	}
	return out, infos, nil
}

// removeFolderDir removes a pruned folder's Maildir (the .mk level):
// first its metadata file, so that a crash half-way leaves nothing that
// rebuilding the catalog would take for a folder; then the rest; then the
// directories above it up to mail/ that are left empty (a folder's
// subfolders keep theirs). The directories it removed from are fsync'd.
func removeFolderDir(mail, maildir string) error {
	if err := os.Remove(filepath.Join(maildir, folderMetaFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := SyncDir(maildir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.RemoveAll(maildir); err != nil {
		return err
	}
	parent := filepath.Dir(maildir)
	for d := parent; d != mail && len(d) > len(mail); d = filepath.Dir(d) {
		if err := os.Remove(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			break // not empty: a subfolder lives below
		}
		parent = filepath.Dir(d)
	}
	return SyncDir(parent)
}

// prunedBy returns the prune that took the message of folderID with key
// and content sum (or, with key "", the folder itself); ok is false when
// none did.
func (c *Catalog) prunedBy(ctx context.Context, folderID int64, key string, sum []byte) (id int64, ok bool) {
	if c.version < pruneSchema {
		return 0, false
	}
	q := `SELECT prune FROM pruned WHERE folder_id = ? AND key = ? AND sha256 = ? ORDER BY prune DESC LIMIT 1`
	args := []any{folderID, key, sum}
	if key == "" {
		q, args = `SELECT prune FROM pruned WHERE folder_id = ? AND key = '' ORDER BY prune DESC LIMIT 1`, args[:1]
	}
	err := c.db.QueryRowContext(ctx, q, args...).Scan(&id)
	return id, err == nil
}

// prunedError is the error of a message or folder that prune took.
func prunedError(what string, prune int64) error {
	return fmt.Errorf("%s: %w (prune %d)", what, ErrPruned, prune)
}

// mergedRuns reports whether a prune ever merged runs away.
func (c *Catalog) mergedRuns(ctx context.Context) (bool, error) {
	if c.version < pruneSchema {
		return false, nil
	}
	var merged bool
	err := c.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM prunes WHERE runs_merged > 0)`).Scan(&merged)
	return merged, wrapCatalog(err)
}

// Prunes returns the account's prunes, newest first; limit < 0 means all.
func (c *Catalog) Prunes(ctx context.Context, limit int) ([]PruneRecord, error) {
	if c.version < pruneSchema {
		return nil, nil
	}
	rows, err := c.db.QueryContext(ctx, `SELECT id, started, COALESCE(ended, ''), outcome, messages, bytes,
		disk_bytes, folders, runs_merged, oldest_run, COALESCE(error, '') FROM prunes ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []PruneRecord
	for rows.Next() {
		var p PruneRecord
		var started, ended string
		if err := rows.Scan(&p.ID, &started, &ended, &p.Outcome, &p.Messages, &p.Bytes, &p.DiskBytes,
			&p.Folders, &p.RunsMerged, &p.OldestRun, &p.Error); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		p.Started, _ = time.Parse(timeLayout, started)
		p.Ended, _ = time.Parse(timeLayout, ended)
		out = append(out, p)
	}
	return out, rows.Err()
}

// PruneRecord is one row of the prunes table.
type PruneRecord struct {
	ID             int64
	Started, Ended time.Time
	Outcome        string
	Messages       int
	Bytes          int64
	DiskBytes      int64
	Folders        int
	RunsMerged     int
	OldestRun      int64
	Error          string
}

// Prunes returns the account's prunes, newest first.
func (s *Snapshot) Prunes(ctx context.Context) ([]PruneRecord, error) { return s.cat.Prunes(ctx, -1) }
