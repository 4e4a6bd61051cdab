package agent

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/index"
)

// PruneJob prunes one account: Prune, or a test's stand-in.
type PruneJob func(ctx context.Context, root string, a *config.Account, log *slog.Logger) (archive.PruneResult, error)

// Prune takes out of account a's archive under root what its retention no
// longer keeps: the job "mailkeep prune" runs, and the agent after each
// backup of the account that ends ok. An account without an archive is an
// error wrapping archive.ErrNoArchive; one without retention takes
// nothing (a zero result).
func Prune(ctx context.Context, root string, a *config.Account, log *slog.Logger) (archive.PruneResult, error) {
	if a.Retention.IsZero() {
		return archive.PruneResult{}, nil
	}
	snap, err := archive.OpenSnapshot(ctx, root, a.Name) // creates nothing, unlike the writer
	if err != nil {
		return archive.PruneResult{}, err
	}
	snap.Close()
	arch, err := archive.OpenWriterKeys(ctx, root, a.Name, log, ArchiveKeys(a))
	if err != nil {
		return archive.PruneResult{}, err
	}
	defer arch.Close()
	res, err := arch.Prune(ctx, archive.PruneOptions{Retention: Retention(a)})
	if err == nil && a.IndexOn() && (res.Messages > 0 || res.FoldersRemoved > 0) {
		dropPruned(ctx, root, a, log)
	}
	return res, err
}

// dropPruned removes from the account's search index the docs of the
// messages prune took (Catchup drops docs whose row is gone), under the
// lock prune holds: what retention takes must not stay searchable. Its
// failure is logged; the next "mailkeep index" finishes it.
func dropPruned(ctx context.Context, root string, a *config.Account, log *slog.Logger) {
	if _, err := os.Stat(filepath.Join(root, a.Name, index.File)); err != nil {
		return // no index: nothing to drop
	}
	if _, err := index.CatchupAccount(ctx, root, a.Name, false, log); err != nil {
		log.Warn("the search index still holds pruned messages; \"mailkeep index\" drops them", "err", err)
	}
}

// PlanPrune says what Prune would take from account a's archive, without
// the lock and without changing anything: the dry run.
func PlanPrune(ctx context.Context, root string, a *config.Account) (archive.PruneResult, error) {
	if a.Retention.IsZero() {
		return archive.PruneResult{}, nil
	}
	snap, err := archive.OpenSnapshot(ctx, root, a.Name)
	if err != nil {
		return archive.PruneResult{}, err
	}
	defer snap.Close()
	return snap.PlanPrune(ctx, archive.PruneOptions{Retention: Retention(a)})
}

// Retention is account a's retention as the archive takes it.
func Retention(a *config.Account) archive.Retention {
	r := a.Retention
	return archive.Retention{GoneAfter: time.Duration(r.GoneAfter), FoldersGoneAfter: time.Duration(r.FoldersGoneAfter),
		ServerDeletedAfter: time.Duration(r.POP3DeletedAfter), Runs: r.Runs}
}

// prune runs after a backup of acct that ended ok, when the account has
// retention. Its failure is logged and counted, and leaves the backup's
// outcome alone: the backup is not retried for it, and the next prune
// finishes what this one left.
func (a *Agent) prune(ctx context.Context, root string, acct *config.Account, log *slog.Logger) {
	if acct.Retention.IsZero() || ctx.Err() != nil {
		return
	}
	res, err := a.opts.Prune(ctx, root, acct, log)
	a.metrics.observePrune(acct.Name, res, err)
	switch {
	case errors.Is(err, archive.ErrBusy):
		log.Info("prune skipped: another mailkeep process holds the account")
	case err != nil:
		log.Error("prune failed; the next one finishes it", "err", err)
	case !res.Empty():
		log.Info("prune finished", "messages", res.Messages, "bytes", res.Bytes, "disk_bytes", res.DiskBytes,
			"folders", res.FoldersRemoved, "runs_merged", res.RunsMerged, "oldest_run", res.OldestRun,
			"leftovers", res.Leftovers, "duration", res.Duration.Round(time.Millisecond))
	}
}
