package agent

import (
	"context"
	"errors"
	"log/slog"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/transport"
)

// Login logs in to account a's server as a backup would, and out again:
// what "mailkeep config check" tries for each account.
func Login(ctx context.Context, a *config.Account, log *slog.Logger) error {
	if a.Protocol == config.ProtocolPOP3 {
		c, err := pop3Dialer(a, log)(ctx)
		if err != nil {
			return err
		}
		return c.Quit(ctx)
	}
	c, err := IMAPDialer(a, log)(ctx)
	if err != nil {
		return err
	}
	transport.CloseIMAP(c)
	return nil
}

// Folders lists account a's folders on the server, with their sizes.
func Folders(ctx context.Context, a *config.Account, log *slog.Logger) ([]backup.FolderInfo, error) {
	if a.Protocol == config.ProtocolPOP3 {
		fi, err := backup.DryRunPOP3(ctx, nil, pop3Dialer(a, log))
		fi.Fetch, fi.FetchBytes = 0, 0
		return []backup.FolderInfo{fi}, err
	}
	return backup.Folders(ctx, IMAPDialer(a, log))
}

// DryRun says what a backup of account a into the archive under root
// would fetch, without writing anything.
func DryRun(ctx context.Context, root string, a *config.Account, log *slog.Logger) ([]backup.FolderInfo, error) {
	snap, err := archive.OpenSnapshot(ctx, root, a.Name)
	switch {
	case errors.Is(err, archive.ErrNoArchive):
		snap = nil
	case err != nil:
		return nil, err
	default:
		defer snap.Close()
	}
	if a.Protocol == config.ProtocolPOP3 {
		fi, err := backup.DryRunPOP3(ctx, snap, pop3Dialer(a, log))
		return []backup.FolderInfo{fi}, err
	}
	return backup.DryRun(ctx, snap, IMAPDialer(a, log), a.MatchFolder)
}

// CheckSecret reads account a's password or token as a login would: from
// its token store for an OAuth2 account, else from its password source.
func CheckSecret(ctx context.Context, a *config.Account, log *slog.Logger) error {
	if a.UsesOAuth2() {
		src, err := OAuthSource(a, log)
		if err != nil {
			return err
		}
		_, err = src.Token(ctx)
		return err
	}
	_, err := a.Secret(ctx)
	return err
}
