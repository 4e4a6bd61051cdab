package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/restore"
)

// restoreFlags are the command line of restore.
type restoreFlags struct {
	account, toAccount, into, asOf string
	folders                        []string
	dryRun, noProgress             bool
}

func restoreCommand(g *globals) *cobra.Command {
	var f restoreFlags
	cmd := &cobra.Command{
		Use:   "restore --account NAME [--to-account NAME] [--folder F]... [--as-of TIME] [--into PREFIX] [--dry-run]",
		Short: "Put an account's archived mail back on an IMAP server",
		Long: `restore APPENDs the archived messages of an account to its IMAP server, or with
--to-account to another IMAP account of the config, byte for byte with their flags, keywords
and dates. It creates missing folders and only adds messages the target does not hold yet,
so it can be run again after it finished or was interrupted without making duplicates. It
never changes or deletes what the target holds. It reads the archive without locking it.

By default the latest state is restored: the folders and messages the last backup saw.
--as-of TIME (RFC 3339, e.g. 2026-11-01T00:00:00Z) restores the state of the last backup run
that started at or before TIME, with the flags messages had then. --folder (repeatable) names
an archive folder to restore, as the source server spelled it (its subfolders are folders of
their own: name them too). --into PREFIX restores
every folder below the target folder PREFIX ("Restored/INBOX", "Restored/Archive", ...).
--dry-run reports what would be created and appended, and changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRestore(cmd.Context(), g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.account, "account", "", "account whose archive is restored (required)")
	fl.StringVar(&f.toAccount, "to-account", "", "IMAP account of the config to restore into (default: --account)")
	fl.StringArrayVar(&f.folders, "folder", nil, "archive folder to restore (repeatable; default: all)")
	fl.StringVar(&f.asOf, "as-of", "", "restore the state of the last backup run at or before this RFC 3339 time")
	fl.StringVar(&f.into, "into", "", "target folder below which the folders are restored")
	fl.BoolVar(&f.dryRun, "dry-run", false, "say what would be created and appended; change nothing")
	fl.BoolVar(&f.noProgress, "no-progress", false, "no progress bar, even on a terminal")
	cmd.MarkFlagRequired("account")
	return cmd
}

func runRestore(ctx context.Context, g *globals, f restoreFlags) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	cfg, err := g.loadConfig(log)
	if err != nil {
		return err
	}
	src, dst, err := restoreAccounts(cfg, f)
	if err != nil {
		return err
	}
	return restoreAccount(ctx, g, cfg.Archive, src, dst, f, log)
}

// restoreAccount restores src's archive into dst and prints the summary.
func restoreAccount(ctx context.Context, g *globals, root string, src, dst *config.Account, f restoreFlags, log *slog.Logger) error {
	opts := restore.Options{Dial: imapDialer(dst, log), Connections: dst.Connections,
		Folders: f.folders, Into: f.into, DryRun: f.dryRun, Now: time.Now,
		Log: log.With("account", src.Name, "target", dst.Name)}
	if f.asOf != "" {
		var err error
		if opts.AsOf, err = time.Parse(time.RFC3339, f.asOf); err != nil {
			return withCode(exitUsage, fmt.Errorf("--as-of: want an RFC 3339 time such as 2026-11-01T00:00:00Z, not %q", f.asOf))
		}
	}
	p := newRestoreProgress(g.stderr, src.Name+" → "+dst.Name, !f.noProgress, log)
	opts.Progress = p
	res, err := restore.Run(ctx, root, src.Name, opts)
	p.Done()
	if res.Folders > 0 { // the restore began: say what it did
		printRestoreSummary(g.stdout, src.Name, dst.Name, f.dryRun, res, err)
	}
	return restoreError(err)
}

func restoreAccounts(cfg *config.Config, f restoreFlags) (src, dst *config.Account, err error) {
	if src, err = cfg.Account(f.account); err != nil {
		return nil, nil, withCode(exitUsage, fmt.Errorf("--account: %w", err))
	}
	dst = src
	if f.toAccount != "" {
		if dst, err = cfg.Account(f.toAccount); err != nil {
			return nil, nil, withCode(exitUsage, fmt.Errorf("--to-account: %w", err))
		}
	}
	if dst.Protocol != config.ProtocolIMAP {
		return nil, nil, withCode(exitUsage, fmt.Errorf("account %q is %s: restore needs an IMAP account (--to-account)",
			dst.Name, dst.Protocol))
	}
	return src, dst, nil
}

// restoreError maps a restore's outcome to its exit code.
func restoreError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled):
		return withCode(exitInterrupted, err)
	case errors.Is(err, restore.ErrPartial):
		return withCode(exitPartial, err)
	case errors.Is(err, restore.ErrNoFolder), errors.Is(err, restore.ErrNoRun):
		return withCode(exitUsage, err)
	}
	return withCode(exitFailure, err)
}

func printRestoreSummary(w io.Writer, src, dst string, dryRun bool, r restore.Result, err error) {
	outcome := "ok"
	switch {
	case errors.Is(err, restore.ErrPartial):
		outcome = "partial"
	case errors.Is(err, context.Canceled):
		outcome = "interrupted"
	case err != nil:
		outcome = "failed"
	}
	created, appended := "created", "appended"
	if dryRun {
		outcome, created, appended = "dry run, "+outcome, "to create", "to append"
	}
	state := "latest state"
	if r.Run.ID != 0 {
		state = fmt.Sprintf("state of run %d, %s", r.Run.ID, r.Run.Started.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(w, "%s → %s: %s — %s, %d folders (%d %s), %d messages %s (%s), %d already present, %d failed, %s\n",
		src, dst, outcome, state, r.Folders, r.Created, created, r.Appended, appended, humanBytes(r.Bytes),
		r.Skipped, r.Failed, r.Duration.Round(time.Millisecond))
	for i, f := range r.Failures {
		if i == 10 {
			fmt.Fprintf(w, "  … and %d more\n", len(r.Failures)-10)
			break
		}
		fmt.Fprintf(w, "  error: %v\n", f)
	}
}
