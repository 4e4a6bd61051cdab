package archive

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Retention says what Prune takes out of an account's archive. The zero
// Retention takes nothing: the archive keeps everything.
type Retention struct {
	// GoneAfter: a message the server no longer has goes once it has been
	// gone this long, counted from the start of the run that found it
	// gone. 0 keeps them.
	GoneAfter time.Duration
	// FoldersGoneAfter: a folder the server no longer lists goes, with all
	// its messages, once it has been gone this long. 0 keeps them.
	FoldersGoneAfter time.Duration
	// ServerDeletedAfter: a message that POP3 delete mode (or
	// delete_after_days) removed from the server goes this long after the
	// run that deleted it. The archive holds the only copy of such a
	// message, so GoneAfter does not apply to it; 0 keeps them.
	ServerDeletedAfter time.Duration
	// Runs: the as-of history of the newest Runs backup runs that ended ok
	// or partial is kept; the runs before the oldest of them merge into
	// it. 0 keeps every run.
	Runs int
}

// IsZero reports whether r takes nothing.
func (r Retention) IsZero() bool { return r == Retention{} }

// PruneOptions configure a prune. Now is the clock the ages count back
// from; zero means time.Now().
type PruneOptions struct {
	Retention
	Now time.Time
}

// PruneFolder is what a prune takes from one folder.
type PruneFolder struct {
	Name string
	// Whole: the folder itself goes (gone from the server for longer than
	// FoldersGoneAfter), since GoneSince.
	Whole     bool
	GoneSince time.Time
	Messages  int
	Bytes     int64 // the messages' size, before compression
	DiskBytes int64 // their files on disk (a plan: as found when planned)
	// Oldest and Newest are the messages' INTERNALDATEs.
	Oldest, Newest time.Time
}

// PruneResult is what a prune took, or what a plan would take.
type PruneResult struct {
	ID      int64 // the prune's record; 0 for a plan, or when there was nothing to take
	Folders []PruneFolder
	// Totals of Folders.
	Messages       int
	Bytes          int64
	DiskBytes      int64
	Oldest, Newest time.Time
	FoldersRemoved int
	RunsMerged     int   // runs whose history merged into OldestRun
	OldestRun      int64 // the oldest run kept when runs merge; 0 when none do
	Leftovers      int   // files and folders an interrupted prune had left, removed first (in a plan: to remove)
	LeftoverBytes  int64 // their size on disk
	Duration       time.Duration
}

// Empty reports whether the prune takes nothing.
func (r PruneResult) Empty() bool {
	return r.Messages == 0 && r.FoldersRemoved == 0 && r.RunsMerged == 0 && r.Leftovers == 0
}

// Prune takes out of the archive what ret no longer keeps. It is crash
// safe in the sense of doc/design.md ("Pruning"): in one transaction it
// records the prune with every message and folder it takes (the pruned
// table), deletes their catalog rows and merges old runs; then it deletes
// the files and directories and fsyncs their directories; then it marks
// the entries done and the prune ok. A file whose entry is still pending
// is never adopted again: the next prune, backup or verify --repair
// deletes it (ResumePrune). Before anything, Prune finishes what an
// interrupted prune left.
func (a *Writer) Prune(ctx context.Context, opts PruneOptions) (PruneResult, error) {
	start := time.Now()
	now := cmp.Or(opts.Now, start)
	var res PruneResult
	left, err := a.ResumePrune(ctx)
	res.Leftovers, res.LeftoverBytes = left.Leftovers, left.LeftoverBytes
	if err != nil {
		return res, err
	}
	var plan prunePlan
	err = a.Catalog.tx(ctx, func(tx *sql.Tx) error {
		if err := markInterrupted(ctx, tx); err != nil {
			return err
		}
		if plan, err = planPrune(ctx, tx, opts.Retention, now); err != nil || plan.empty() {
			return err
		}
		return recordPrune(ctx, tx, &plan, start)
	})
	plan.res.Leftovers, plan.res.LeftoverBytes = res.Leftovers, res.LeftoverBytes
	if err != nil || plan.empty() {
		plan.res.Duration = time.Since(start)
		return plan.res, err
	}
	a.log.Debug("prune recorded", "prune", plan.res.ID, "messages", plan.res.Messages, "folders", plan.res.FoldersRemoved,
		"runs_merged", plan.res.RunsMerged, "took", time.Since(start))
	res = plan.res
	removing := time.Now()
	at := map[string]int{}
	for i, f := range res.Folders {
		at[f.Name] = i
	}
	res.DiskBytes, err = a.removePending(ctx, func(l leftover) {
		if i, ok := at[l.folder]; ok {
			res.Folders[i].DiskBytes += l.size
		}
	})
	a.log.Debug("prune removed its files", "prune", res.ID, "disk_bytes", res.DiskBytes, "took", time.Since(removing))
	res.Duration = time.Since(start)
	return res, a.Catalog.finishPrune(context.WithoutCancel(ctx), res, err)
}

// PlanPrune says what Prune would take with opts, without changing
// anything and without the lock: the dry run.
func (s *Snapshot) PlanPrune(ctx context.Context, opts PruneOptions) (PruneResult, error) {
	now := cmp.Or(opts.Now, time.Now())
	plan, err := planPrune(ctx, s.cat.db, opts.Retention, now)
	if err != nil {
		return PruneResult{}, err
	}
	res := plan.res
	infos := make([]fs.FileInfo, len(plan.victims))
	for i, v := range plan.victims {
		if fi, err := os.Lstat(filepath.Join(s.dir, mailDir, filepath.FromSlash(v.dir), MaildirLevel, "cur", v.file)); err == nil {
			infos[i] = fi
		}
	}
	for i, n := range freedBytes(infos) {
		res.DiskBytes += n
		res.Folders[plan.victims[i].index].DiskBytes += n
	}
	pending, err := s.cat.pendingPruned(ctx)
	if err != nil {
		return res, err
	}
	lo, err := leftovers(s.dir, pending)
	res.Leftovers = len(lo)
	for _, l := range lo {
		res.LeftoverBytes += l.size
	}
	return res, err
}

// prunePlan is what a prune takes, as read from the catalog.
type prunePlan struct {
	res     PruneResult
	victims []pruneVictim
	whole   []FolderState
	keep    int64 // the oldest run kept; the runs before it merge into it; 0: none
}

func (p prunePlan) empty() bool {
	return len(p.victims) == 0 && len(p.whole) == 0 && p.res.RunsMerged == 0
}

// pruneVictim is one message a prune takes.
type pruneVictim struct {
	id, folderID     int64
	folder, dir, key string
	file             string
	sum              []byte
	size             int64
	date             time.Time
	index            int // of its folder in PruneResult.Folders
}

// queryer is what planning reads through: the catalog, or a transaction.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// planPrune reads what ret no longer keeps at now.
func planPrune(ctx context.Context, q queryer, ret Retention, now time.Time) (prunePlan, error) {
	var p prunePlan
	runs, err := loadRuns(ctx, q)
	if err != nil {
		return p, err
	}
	cut := func(d time.Duration) int64 {
		if d <= 0 {
			return 0
		}
		return cutoffRun(runs, now.Add(-d))
	}
	folderCut := cut(ret.FoldersGoneAfter)
	if p.whole, err = wholeFolders(ctx, q, folderCut); err != nil {
		return p, err
	}
	if p.victims, err = victims(ctx, q, cut(ret.GoneAfter), cut(ret.ServerDeletedAfter), folderCut); err != nil {
		return p, err
	}
	p.keep = keepFrom(runs, ret.Runs)
	p.res = summarize(p.victims, p.whole, runs)
	for _, r := range runs {
		if p.keep != 0 && r.id < p.keep {
			p.res.RunsMerged++
		}
	}
	if p.res.RunsMerged > 0 {
		p.res.OldestRun = p.keep
	}
	return p, nil
}

// runInfo is what planning needs of a run.
type runInfo struct {
	id      int64
	kind    string
	outcome string
	started time.Time
}

func loadRuns(ctx context.Context, q queryer) ([]runInfo, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, kind, outcome, started FROM runs ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []runInfo
	for rows.Next() {
		var r runInfo
		var started string
		if err := rows.Scan(&r.id, &r.kind, &r.outcome, &started); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		r.started, _ = time.Parse(timeLayout, started)
		out = append(out, r)
	}
	return out, rows.Err()
}

// cutoffRun returns the newest run R such that every run up to R started
// at or before cutoff (runs in id order), or 0: whatever was found gone by
// a run up to R has been gone since cutoff at least. A run that merging
// removed counts as starting with the next run kept, so what it found gone
// counts from later than it was, never from earlier.
func cutoffRun(runs []runInfo, cutoff time.Time) int64 {
	var r int64
	for _, x := range runs {
		if x.started.After(cutoff) {
			break
		}
		r = x.id
	}
	return r
}

// keepFrom returns the oldest run that a history of n runs keeps: the
// n-th newest backup run that ended ok or partial (runs in id order); 0
// when n is 0 or there are not that many.
func keepFrom(runs []runInfo, n int) int64 {
	if n <= 0 {
		return 0
	}
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		if (r.kind == "imap" || r.kind == "pop3") && (r.outcome == OutcomeOK || r.outcome == OutcomePartial) {
			if n--; n == 0 {
				return r.id
			}
		}
	}
	return 0
}

// goneWhole is the condition on a folder row (alias a) that goes whole: gone
// from the server in a run up to the bound parameter, with no message
// present.
func goneWhole(a string) string {
	return a + `.gone_run <= ? AND NOT EXISTS (SELECT 1 FROM messages x WHERE x.folder_id = ` + a + `.id AND x.gone_run IS NULL)`
}

// wholeFolders returns the folders gone from the server in a run up to
// cut of which no message is present: a folder that the server lists
// again is revived, and until then each of its messages is gone too.
func wholeFolders(ctx context.Context, q queryer, cut int64) ([]FolderState, error) {
	if cut == 0 {
		return nil, nil
	}
	rows, err := q.QueryContext(ctx, `SELECT `+folderCols+`, f.gone_run FROM folders f
		WHERE `+goneWhole("f")+` ORDER BY f.name`, cut)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []FolderState
	for rows.Next() {
		var goneRun int64
		f, err := scanFolder(extraScanner{rows, []any{&goneRun}})
		if err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		f.LastRun = goneRun // GoneSince is read from it; the row is not kept
		out = append(out, f)
	}
	return out, rows.Err()
}

// victims returns the messages a prune takes, by folder name: gone in a
// run up to goneCut (and not deleted from the server by POP3), deleted
// from the server by POP3 in a run up to deletedCut and gone since, or in
// a folder that goes whole. A message the server still has is never one.
func victims(ctx context.Context, q queryer, goneCut, deletedCut, folderCut int64) ([]pruneVictim, error) {
	rows, err := q.QueryContext(ctx, `SELECT m.id, m.folder_id, f.name, f.dir, m.key, m.file, m.sha256, m.size,
		m.internaldate FROM messages m JOIN folders f ON f.id = m.folder_id
		WHERE (m.gone_run IS NOT NULL AND ((m.server_deleted_run IS NULL AND m.gone_run <= ?) OR m.server_deleted_run <= ?))
		OR m.folder_id IN (SELECT w.id FROM folders w WHERE `+goneWhole("w")+`)
		ORDER BY f.name, m.id`, goneCut, deletedCut, folderCut)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []pruneVictim
	for rows.Next() {
		var v pruneVictim
		var date string
		if err := rows.Scan(&v.id, &v.folderID, &v.folder, &v.dir, &v.key, &v.file, &v.sum, &v.size, &date); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		v.date, _ = time.Parse(time.RFC3339, date)
		out = append(out, v)
	}
	return out, rows.Err()
}

// summarize counts a plan by folder, in name order.
func summarize(vs []pruneVictim, whole []FolderState, runs []runInfo) PruneResult {
	var res PruneResult
	at := map[string]int{}
	folder := func(name string) *PruneFolder {
		i, ok := at[name]
		if !ok {
			i = len(res.Folders)
			at[name] = i
			res.Folders = append(res.Folders, PruneFolder{Name: name})
		}
		return &res.Folders[i]
	}
	for _, w := range whole {
		f := folder(w.Name)
		f.Whole, f.GoneSince = true, startFrom(runs, w.LastRun)
	}
	for i := range vs {
		v := &vs[i]
		f := folder(v.folder)
		v.index = at[v.folder]
		f.Messages++
		f.Bytes += v.size
		f.Oldest, f.Newest = earliest(f.Oldest, v.date), latest(f.Newest, v.date)
	}
	slices.SortFunc(res.Folders, func(a, b PruneFolder) int { return cmp.Compare(a.Name, b.Name) })
	for i, f := range res.Folders {
		at[f.Name] = i
		res.Messages += f.Messages
		res.Bytes += f.Bytes
		res.Oldest, res.Newest = earliest(res.Oldest, f.Oldest), latest(res.Newest, f.Newest)
		if f.Whole {
			res.FoldersRemoved++
		}
	}
	for i := range vs {
		vs[i].index = at[vs[i].folder]
	}
	return res
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// recordPrune is the prune's first write, one transaction with the plan
// read in it: the prune's record (started at start), an entry per message
// and folder it takes, their catalog rows deleted, and the old runs merged.
func recordPrune(ctx context.Context, tx *sql.Tx, p *prunePlan, start time.Time) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO prunes (started, outcome, messages, bytes, folders, runs_merged, oldest_run)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, start.UTC().Format(timeLayout), OutcomeRunning, p.res.Messages, p.res.Bytes,
		p.res.FoldersRemoved, p.res.RunsMerged, p.res.OldestRun)
	if err != nil {
		return err
	}
	if p.res.ID, err = res.LastInsertId(); err != nil {
		return err
	}
	if err := dropMessages(ctx, tx, p.res.ID, p.victims); err != nil {
		return err
	}
	if err := dropFolders(ctx, tx, p.res.ID, p.whole); err != nil {
		return err
	}
	if p.res.RunsMerged > 0 {
		return mergeRuns(ctx, tx, p.keep)
	}
	return nil
}

// dropMessages takes the victims' rows out of the catalog. The next sync
// of each IMAP folder then compares it whole once more (forgetAllSynced).
func dropMessages(ctx context.Context, tx *sql.Tx, prune int64, vs []pruneVictim) error {
	if len(vs) == 0 {
		return nil
	}
	if err := forgetAllSynced(ctx, tx); err != nil {
		return err
	}
	stmts := make([]*sql.Stmt, 3)
	for i, q := range []string{
		`INSERT INTO pruned (prune, folder_id, folder, dir, key, sha256, size) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		`DELETE FROM flag_history WHERE message = ?`,
		`DELETE FROM messages WHERE id = ?`,
	} {
		st, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		defer st.Close()
		stmts[i] = st
	}
	for _, v := range vs {
		if _, err := stmts[0].ExecContext(ctx, prune, v.folderID, v.folder, v.dir, v.key, v.sum, v.size); err != nil {
			return fmt.Errorf("prune %s: %w", v.key, err)
		}
		for _, st := range stmts[1:] {
			if _, err := st.ExecContext(ctx, v.id); err != nil {
				return fmt.Errorf("prune %s: %w", v.key, err)
			}
		}
	}
	return nil
}

// dropFolders takes whole folders out of the catalog; their messages are
// dropped already.
func dropFolders(ctx context.Context, tx *sql.Tx, prune int64, fs []FolderState) error {
	for _, f := range fs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO pruned (prune, folder_id, folder, dir, key) VALUES (?, ?, ?, ?, '')`,
			prune, f.ID, f.Name, f.Dir); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM refetch WHERE folder_id = ?`, f.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM staged WHERE folder_id = ?`, f.ID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM folders WHERE id = ? AND NOT EXISTS
			(SELECT 1 FROM messages WHERE folder_id = ?)`, f.ID, f.ID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errors.Join(err, fmt.Errorf("folder %q still holds messages", f.Name))
		}
	}
	return nil
}

// mergeRuns folds the runs before keep into it. Presence needs no change:
// first_run and gone_run keep their numbers, and the rule of
// doc/design.md ("Catalog") gives the same answer for every run from keep
// on. Of a message's flag_history rows before keep only the newest stays,
// which is what a view as of keep or later reads. A folder whose clean
// run lies before keep with a failed or interrupted run in between is
// scanned for orphans at its next sync (clean_run 0), since that run's
// record goes.
func mergeRuns(ctx context.Context, tx *sql.Tx, keep int64) error {
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE folders SET clean_run = 0 WHERE clean_run < ? AND EXISTS (SELECT 1 FROM runs r
			WHERE r.id > folders.clean_run AND r.id < ? AND r.outcome IN (?, ?))`,
			[]any{keep, keep, OutcomeFailed, OutcomeInterrupted}},
		{`DELETE FROM flag_history WHERE run < ? AND run < (SELECT MAX(h.run) FROM flag_history h
			WHERE h.message = flag_history.message AND h.run < ?)`, []any{keep, keep}},
		{`DELETE FROM runs WHERE id < ?`, []any{keep}},
	} {
		if _, err := tx.ExecContext(ctx, q.sql, q.args...); err != nil {
			return err
		}
	}
	return nil
}

// finishPrune records a prune's end: ok, or the error that stopped it.
func (c *Catalog) finishPrune(ctx context.Context, res PruneResult, runErr error) error {
	outcome, msg := OutcomeOK, ""
	switch {
	case errors.Is(runErr, context.Canceled):
		outcome, msg = OutcomeInterrupted, runErr.Error()
	case runErr != nil:
		outcome, msg = OutcomeFailed, runErr.Error()
	}
	err := c.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE prunes SET ended = ?, outcome = ?, disk_bytes = ?, error = ? WHERE id = ?`,
			time.Now().UTC().Format(timeLayout), outcome, res.DiskBytes, msg, res.ID)
		return err
	})
	return errors.Join(runErr, err)
}
