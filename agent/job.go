package agent

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/index"
	"github.com/mailkeep/mailkeep/oauth"
	"github.com/mailkeep/mailkeep/pop3"
	"github.com/mailkeep/mailkeep/progress"
	"github.com/mailkeep/mailkeep/schedule"
	"github.com/mailkeep/mailkeep/transport"
)

// Backup runs one backup of account a into the archive under root: the
// job the agent schedules and "mailkeep backup" runs once. Unless the
// account's index is off, it fills the search index as it goes (see
// index.Follower); a failure of the index is logged, never the backup's.
func Backup(ctx context.Context, root string, a *config.Account, log *slog.Logger, p progress.Sink) (backup.Result, error) {
	keys, err := BackupKeys(a)
	if err != nil {
		return backup.Result{}, err
	}
	arch, err := archive.OpenWriterKeys(ctx, root, a.Name, log, keys)
	if err != nil {
		return backup.Result{}, err
	}
	defer arch.Close()
	set := backup.Settings{Compression: a.Compression, Log: log.With("account", a.Name), Progress: p, Now: time.Now,
		ThrottleBackoff: time.Duration(a.ThrottleBackoff)}
	if !a.IndexOn() {
		return runBackup(ctx, arch, a, set, log)
	}
	// The index is filled as batches commit, and caught up before the
	// account's lock is released: its writer is covered by the lock.
	follow := index.Follow(ctx, root, a.Name, set.Log)
	set.Index = follow
	res, err := runBackup(ctx, arch, a, set, log)
	st, ierr := follow.Close(ctx)
	if ierr != nil {
		set.Log.Warn("the search index lags the archive; the next backup or \"mailkeep index\" catches up",
			"indexed", st.Added, "err", ierr)
	} else {
		set.Log.Debug("search index updated", "indexed", st.Added, "time", st.Spent)
	}
	return res, err
}

var _ backup.Indexer = (*index.Follower)(nil)

func runBackup(ctx context.Context, arch *archive.Writer, a *config.Account, set backup.Settings, log *slog.Logger) (backup.Result, error) {
	if a.Protocol == config.ProtocolPOP3 {
		return backup.POP3(ctx, arch, backup.POP3Options{Settings: set, Dial: pop3Dialer(a, log),
			Delete: a.POP3.Mode == config.POP3Delete, DeleteAfterDays: a.POP3.DeleteAfterDays,
			HashWithoutUIDL: a.POP3.NoUIDL == config.NoUIDLHash})
	}
	return backup.IMAP(ctx, arch, backup.Options{Settings: set, Dial: IMAPDialer(a, log),
		Connections: a.Connections, Include: a.MatchFolder})
}

// IMAPDialer logs in to account a's IMAP server, with its OAuth2 tokens
// where it has them.
func IMAPDialer(a *config.Account, log *slog.Logger) transport.IMAPDialer {
	return withOAuth2(a, log, func(ctx context.Context, ep transport.Endpoint) (*imapclient.Client, error) {
		return transport.DialIMAP(ctx, ep, transport.IMAPOptions{Log: log})
	})
}

// pop3Dialer logs in to account a's POP3 server, with its OAuth2 tokens
// where it has them.
func pop3Dialer(a *config.Account, log *slog.Logger) transport.POP3Dialer {
	return withOAuth2(a, log, func(ctx context.Context, ep transport.Endpoint) (*pop3.Client, error) {
		return transport.DialPOP3(ctx, ep, transport.POP3Options{})
	})
}

// classify tells the scheduler what a job's error means: a busy account
// and a partial run are the archive's and backup's to say, a provider's
// trouble refreshing a token oauth's, the rest is transport.Classify's, for
// IMAP and POP3 alike.
func classify(err error) schedule.Class {
	if _, ok := backup.RetryAt(err); ok {
		return schedule.Throttled // partial or failed: the server asked to wait
	}
	switch {
	case errors.Is(err, archive.ErrBusy):
		return schedule.Busy
	case errors.Is(err, backup.ErrPartial):
		return schedule.Incomplete
	case errors.Is(err, oauth.ErrNeedsLogin):
		return schedule.Permanent
	case oauth.Temporary(err):
		return schedule.Temporary
	}
	switch transport.Classify(err) {
	case transport.Temporary:
		return schedule.Temporary
	case transport.Throttled:
		return schedule.Throttled
	}
	return schedule.Permanent
}

// retryAfter is how long the scheduler holds an account after a throttled
// run: until the time the run recorded (the server's suggestion, or the
// account's throttle_backoff), or as transport.RetryAfter says for a
// throttled error that no backup run made.
func retryAfter(err error) time.Duration {
	if until, ok := backup.RetryAt(err); ok {
		return max(time.Until(until), backup.MinThrottleBackoff)
	}
	return transport.RetryAfter(err)
}
