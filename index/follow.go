package index

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/mailkeep/mailkeep/archive"
)

// Follower fills an account's index while a backup of it runs: the backup
// calls Committed after each batch's catalog rows commit, and a goroutine
// of the Follower's own indexes the committed rows (Update) through a
// read view of the archive, so it never touches the backup's
// transactions and never delays the durability of a message. Signals that
// arrive while it works are merged into one more pass. The caller holds
// the account's lock (archive.OpenWriter), which makes the Follower the
// index's only writer.
type Follower struct {
	log     *slog.Logger
	wake    chan struct{}
	closing chan struct{}
	done    chan struct{}
	cancel  context.CancelFunc

	// Written by the goroutine, read after done is closed.
	added int
	err   error
	spent time.Duration
}

// Follow starts a Follower for the archive of account under root, and has
// it catch up at once with what an earlier run left unindexed. A failure
// to open the index or the archive stops the Follower; Close reports it.
func Follow(ctx context.Context, root, account string, log *slog.Logger) *Follower {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	f := &Follower{log: log, wake: make(chan struct{}, 1), closing: make(chan struct{}),
		done: make(chan struct{}), cancel: cancel}
	f.wake <- struct{}{}
	go f.run(ctx, root, account)
	return f
}

// Committed tells the Follower that catalog rows were committed. It never
// blocks.
func (f *Follower) Committed() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Close has the Follower index what is committed by now, waits for it,
// and returns the first error it met. When ctx ends first, the Follower
// is stopped where it is (its transaction rolls back) and Close returns
// ctx's error: the index lags, and the next run catches up.
func (f *Follower) Close(ctx context.Context) (FollowStats, error) {
	close(f.closing)
	select {
	case <-f.done:
	case <-ctx.Done():
		f.cancel()
		<-f.done
		return f.stats(), errors.Join(f.err, context.Cause(ctx))
	}
	f.cancel()
	return f.stats(), f.err
}

// FollowStats say what a Follower did.
type FollowStats struct {
	Added int           // messages indexed
	Spent time.Duration // time spent indexing
}

func (f *Follower) stats() FollowStats { return FollowStats{Added: f.added, Spent: f.spent} }

func (f *Follower) run(ctx context.Context, root, account string) {
	defer close(f.done)
	ix, src, closeAll, err := openFollowed(ctx, root, account, f.log)
	if err != nil {
		f.err = err
		return
	}
	defer closeAll()
	for {
		select {
		case <-f.wake:
		case <-f.closing:
		case <-ctx.Done():
			return
		}
		last := isClosed(f.closing)
		start := time.Now()
		n, err := ix.Update(ctx, src)
		f.added, f.spent = f.added+n, f.spent+time.Since(start)
		if err != nil {
			f.err = err
			return
		}
		if last {
			return
		}
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// openFollowed opens the index (creating it) and the read view of the
// account's archive.
func openFollowed(ctx context.Context, root, account string, log *slog.Logger) (*Index, *SnapshotSource, func(), error) {
	snap, err := archive.OpenSnapshot(ctx, root, account)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("index: %w", err)
	}
	ix, err := Open(ctx, filepath.Join(root, account), log)
	if err != nil {
		snap.Close()
		return nil, nil, nil, err
	}
	return ix, NewSource(snap), func() { ix.Close(); snap.Close() }, nil
}
