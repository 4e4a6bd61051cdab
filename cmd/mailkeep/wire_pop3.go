package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/pop3"
	"github.com/mailkeep/mailkeep/transport"
)

// backupPOP3 runs one POP3 account's backup.
func backupPOP3(ctx context.Context, arch *archive.Account, a *config.Account, log *slog.Logger, p backup.Progress) (backup.Result, error) {
	ep := transport.EndpointFor(a)
	opts := backup.POP3Options{
		Dial: func(ctx context.Context) (*pop3.Client, error) {
			return transport.DialPOP3(ctx, ep, transport.POP3Options{})
		},
		Delete:          a.POP3.Mode == config.POP3Delete,
		DeleteAfterDays: a.POP3.DeleteAfterDays,
		HashWithoutUIDL: a.POP3.NoUIDL == config.NoUIDLHash,
		Compression:     a.Compression,
		Log:             log.With("account", a.Name),
		Progress:        p,
		Now:             time.Now,
	}
	return backup.POP3(ctx, arch, opts)
}
