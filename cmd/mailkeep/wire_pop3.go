package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/config"
)

// backupPOP3 runs one POP3 account's backup.
func backupPOP3(ctx context.Context, arch *archive.Account, a *config.Account, log *slog.Logger, p backup.Progress) (backup.Result, error) {
	return backup.Result{}, errors.New("POP3 backup is not built yet")
}
