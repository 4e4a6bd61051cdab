package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/oauth"
)

// loadConfig reads the configuration named by --config, $MAILKEEP_CONFIG
// or the default path.
func (g *globals) loadConfig() (*config.Config, error) {
	cfg, err := config.LoadSearched(g.configPath)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	return cfg, nil
}

// warn logs the configuration's warnings about the accounts a command
// touches (every account when names is empty).
func warn(log *slog.Logger, cfg *config.Config, names ...string) {
	for _, w := range cfg.Warnings(names...) {
		log.Warn(w.Text, "account", w.Account)
	}
}

// setup builds the logger, reads the configuration and picks the accounts
// named in args (all of them when args is empty): the start of most
// subcommands.
func (g *globals) setup(args []string) (*slog.Logger, *config.Config, []*config.Account, error) {
	log, err := g.logger()
	if err != nil {
		return nil, nil, nil, err
	}
	cfg, err := g.loadConfig()
	if err != nil {
		return nil, nil, nil, err
	}
	accts, err := selectAccounts(cfg, args)
	if err != nil {
		return nil, nil, nil, err
	}
	warn(log, cfg, args...)
	return log, cfg, accts, nil
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
	case errors.Is(err, oauth.ErrNeedsLogin):
		return withCode(exitNeedsLogin, err)
	case errors.Is(err, archive.ErrEncryption):
		return withCode(exitUsage, err)
	}
	return withCode(exitFailure, err)
}
