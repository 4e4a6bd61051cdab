package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/transport"
)

// loadConfig reads the configuration named by --config, $MAILKEEP_CONFIG
// or the default path, and logs its warnings.
func (g *globals) loadConfig(log *slog.Logger) (*config.Config, error) {
	cfg, err := config.Load(config.ResolvePath(g.configPath))
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	for _, w := range cfg.Warnings() {
		log.Warn(w)
	}
	return cfg, nil
}

// setup builds the logger, reads the configuration and picks the accounts
// named in args (all of them when args is empty): the start of most
// subcommands.
func (g *globals) setup(args []string) (*slog.Logger, *config.Config, []*config.Account, error) {
	log, err := g.logger()
	if err != nil {
		return nil, nil, nil, err
	}
	cfg, err := g.loadConfig(log)
	if err != nil {
		return nil, nil, nil, err
	}
	accts, err := selectAccounts(cfg, args)
	return log, cfg, accts, err
}

// selectAccounts returns the named accounts, or all of them.
func selectAccounts(cfg *config.Config, names []string) ([]*config.Account, error) {
	if len(names) == 0 {
		out := make([]*config.Account, len(cfg.Accounts))
		for i := range cfg.Accounts {
			out[i] = &cfg.Accounts[i]
		}
		return out, nil
	}
	var out []*config.Account
	for _, n := range names {
		a, err := cfg.Account(n)
		if err != nil {
			return nil, withCode(exitUsage, err)
		}
		out = append(out, a)
	}
	return out, nil
}

func imapDialer(a *config.Account, log *slog.Logger) transport.IMAPDialer {
	ep := transport.EndpointFor(a)
	return func(ctx context.Context) (*imapclient.Client, error) {
		return transport.DialIMAP(ctx, ep, transport.IMAPOptions{Log: log})
	}
}

// backupAccount runs one account's backup and maps its outcome to an exit code.
func backupAccount(ctx context.Context, root string, a *config.Account, log *slog.Logger, p backup.Progress) (backup.Result, error) {
	arch, err := archive.Open(ctx, root, a.Name, log)
	if err != nil {
		return backup.Result{}, accountError(err)
	}
	defer arch.Close()
	if a.Protocol == "pop3" {
		res, err := backupPOP3(ctx, arch, a, log, p)
		return res, accountError(err)
	}
	opts := backup.Options{Dial: imapDialer(a, log), Connections: a.Connections, Include: a.MatchFolder,
		Compression: a.Compression, Log: log.With("account", a.Name), Progress: p, Now: time.Now}
	res, err := backup.IMAP(ctx, arch, opts)
	return res, accountError(err)
}

// accountError maps an account's failure to its exit code.
func accountError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled):
		return withCode(exitInterrupted, err)
	case errors.Is(err, archive.ErrBusy):
		return withCode(exitBusy, err)
	case errors.Is(err, backup.ErrPartial):
		return withCode(exitPartial, err)
	}
	return withCode(exitFailure, err)
}

func splitHostPort(addr string) (string, string, error) { return net.SplitHostPort(addr) }
