package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailkeep/mailkeep/agent"
	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/export"
	"github.com/mailkeep/mailkeep/progress"
)

// exportFlags are the command line of export.
type exportFlags struct {
	format, to, since, before, asOf, from string
	fromRun                               int64
	folders, ids                          []string
	gone, noProgress                      bool
}

func exportCommand(g *globals) *cobra.Command {
	var f exportFlags
	cmd := &cobra.Command{
		Use:   "export ACCOUNT|--id ACCOUNT/ID... --format mbox|eml|maildir --to DIR|- [--folder PATTERN]... [--since DATE] [--before DATE] [--as-of RUN|DATE] [--include-gone]",
		Short: "Write an account's archive as mbox, eml files or an uncompressed Maildir",
		Long: `export writes the archived mail of an account in a format other mail software reads:
  mbox     one mboxrd file per folder (<folder>.mbox); --to - writes the one selected folder to
           standard output
  eml      one file per message, <folder>/<YYYYMMDD-HHMMSS>-<key>.eml
  maildir  the archive's tree, uncompressed: <folder>/.mk/cur/..., for notmuch, mutt and Dovecot
Every message is byte for byte the server's (an mbox adds a newline to a message that does not
end in one) and is checked against the catalog's SHA-256 as it is written; a damaged one is
left out, reported, and makes the exit code 5. Files are written atomically, so an interrupted
export can be run again into the same directory: it completes it without duplicates.
It reads the archive without locking it.

--folder (repeatable) selects folders by pattern, as folders.include does ("*" any run of
characters, "?" one). --since and --before select messages by INTERNALDATE: a date
(2026-11-01, local time), an RFC 3339 time or an age (30d). --as-of RUN|TIME exports the state
of a backup run, as restore does. --include-gone adds the messages the server had deleted.
--from s3://BUCKET/PREFIX or --from DIR reads a replica of the account instead of the
archive, as restore does (--from-run RUN: a state it kept).
--id ACCOUNT/ID (repeatable; ids as find, show and ls print them) exports exactly those
messages, also ones deleted on the server; ACCOUNT may then be left out.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExport(cmd.Context(), g, args, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.format, "format", "", "mbox, eml or maildir (required)")
	fl.StringVar(&f.to, "to", "", "directory to export into, or - for standard output (mbox of one folder; required)")
	fl.StringArrayVar(&f.folders, "folder", nil, "folder pattern to export (repeatable; default: all)")
	fl.StringArrayVar(&f.ids, "id", nil, "export only this message, ACCOUNT/ID as find prints it (repeatable)")
	fl.StringVar(&f.since, "since", "", "only messages whose INTERNALDATE is on or after this date, time or age")
	fl.StringVar(&f.before, "before", "", "only messages whose INTERNALDATE is before this date, time or age")
	fl.StringVar(&f.asOf, "as-of", "", "export the state of this run: a run id, a date, an RFC 3339 time or an age (3d)")
	fl.BoolVar(&f.gone, "include-gone", false, "add the messages and folders the server had deleted")
	fl.BoolVar(&f.noProgress, "no-progress", false, "no progress bar, even on a terminal")
	fl.StringVar(&f.from, "from", "", "read a replica instead of the archive: s3://BUCKET/PREFIX or a directory")
	fl.Int64Var(&f.fromRun, "from-run", 0, "with --from: read the kept state of the replica that ends with this run")
	cmd.MarkFlagRequired("format")
	cmd.MarkFlagRequired("to")
	return cmd
}

func runExport(ctx context.Context, g *globals, args []string, f exportFlags) error {
	account, err := exportAccount(args, f.ids)
	if err != nil {
		return err
	}
	log, cfg, accts, err := g.setup([]string{account})
	if err != nil {
		return err
	}
	opts, err := exportOptions(f, g.stdout)
	if err != nil {
		return withCode(exitUsage, err)
	}
	if opts.Messages, err = exportIDs(ctx, cfg, account, f); err != nil {
		return err
	}
	opts.Log = log.With("account", account)
	if f.fromRun != 0 && f.from == "" {
		return withCode(exitUsage, errors.New("--from-run needs --from"))
	}
	if f.from != "" {
		rp, err := openReplica(ctx, accts[0], f.from, f.fromRun)
		if err != nil {
			return accountError(err)
		}
		defer rp.Close()
		opts.Snapshot = rp.Snapshot
	}
	keys, err := agent.ReadKeys(accts[0])
	if err != nil {
		return withCode(exitFailure, err)
	}
	if keys != nil {
		opts.Identities = keys.Identities
	}
	summary := g.stdout
	if opts.Stdout != nil {
		summary = g.stderr // stdout is the mbox
	}
	p := progress.New(g.stderr, account, !f.noProgress, log, "exporting folder", "account", account)
	opts.Progress = p
	res, err := export.Run(ctx, cfg.Archive, accts[0].Name, opts)
	p.Done()
	if res.Folders > 0 || res.Messages > 0 || err == nil || errors.Is(err, export.ErrProblems) || errors.Is(err, context.Canceled) {
		printExportSummary(summary, account, f, res, err)
	}
	return exportError(err)
}

// exportAccount is the account named by the argument, or by the ids.
func exportAccount(args, ids []string) (string, error) {
	switch {
	case len(args) == 1:
		return args[0], nil
	case len(ids) == 0:
		return "", withCode(exitUsage, errors.New("export needs ACCOUNT or --id"))
	}
	name, _, _ := strings.Cut(ids[0], "/")
	return name, nil
}

// exportIDs turns --id into the catalog rows of the account.
func exportIDs(ctx context.Context, cfg *config.Config, account string, f exportFlags) ([]int64, error) {
	if len(f.ids) > 0 && f.from != "" {
		return nil, withCode(exitUsage, errors.New("--id and --from: choose one (ids name messages of the archive)"))
	}
	var rows []int64
	for _, id := range f.ids {
		if name, _, _ := strings.Cut(id, "/"); name != account {
			return nil, withCode(exitUsage, fmt.Errorf("--id %s is not a message of account %s: export one account at a time", id, account))
		}
		snap, m, _, err := openMessageID(ctx, cfg, id)
		if err != nil {
			return nil, err
		}
		snap.Close()
		rows = append(rows, m.ID)
	}
	return rows, nil
}

// exportOptions turns the flags into export options.
func exportOptions(f exportFlags, stdout io.Writer) (export.Options, error) {
	var opts export.Options
	var err error
	if opts.Format, err = export.ParseFormat(f.format); err != nil {
		return opts, err
	}
	if f.to == "-" {
		opts.Stdout = stdout
	}
	opts.To = f.to
	for _, p := range f.folders {
		if err := config.CheckFolderPattern(p); err != nil {
			return opts, fmt.Errorf("--folder: %w", err)
		}
	}
	if f.folders != nil {
		opts.Match = func(name string) bool { return config.MatchFolderPatterns(f.folders, name) }
	}
	now := time.Now()
	if opts.AsOf, err = archive.ParseAsOf(f.asOf, now, time.Local, config.ParseDuration); err != nil {
		return opts, err
	}
	opts.Gone = f.gone
	for _, d := range []struct {
		flag, value string
		t           *time.Time
	}{{"--since", f.since, &opts.Since}, {"--before", f.before, &opts.Before}} {
		if d.value == "" {
			continue
		}
		if *d.t, err = export.ParseDate(d.value, now, time.Local, config.ParseDuration); err != nil {
			return opts, fmt.Errorf("%s %w", d.flag, err)
		}
	}
	return opts, nil
}

// exportError maps an export's outcome to its exit code.
func exportError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled):
		return withCode(exitInterrupted, err)
	case errors.Is(err, export.ErrProblems):
		return withCode(exitProblems, err)
	case errors.Is(err, export.ErrNoFolder), errors.Is(err, export.ErrOneFolder), errors.Is(err, export.ErrNoMessage),
		errors.Is(err, archive.ErrNoRun):
		return withCode(exitUsage, err)
	}
	return withCode(exitFailure, err)
}

func printExportSummary(w io.Writer, account string, f exportFlags, r export.Result, err error) {
	outcome := "ok"
	switch {
	case errors.Is(err, export.ErrProblems):
		outcome = "problems"
	case errors.Is(err, context.Canceled):
		outcome = "interrupted"
	case err != nil:
		outcome = "failed"
	}
	state := "latest state"
	if r.Run.ID != 0 {
		state = fmt.Sprintf("state of run %d, %s", r.Run.ID, r.Run.Started.UTC().Format(time.RFC3339))
	}
	to := f.to
	if to == "-" {
		to = "standard output"
	}
	newlines := ""
	if f.format == string(export.Mbox) {
		newlines = fmt.Sprintf(", %d given a final newline", r.Newlines)
	}
	fmt.Fprintf(w, "%s: %s — %s to %s, %s, %d folders, %d messages (%s), %d already in place%s, %d damaged, %s\n",
		account, outcome, f.format, to, state, r.Folders, r.Messages, humanBytes(r.Bytes), r.Present, newlines,
		r.Damaged, r.Duration.Round(time.Millisecond))
	for i, p := range r.Problems {
		if i == 10 {
			fmt.Fprintf(w, "  … and %d more\n", r.Damaged-10)
			break
		}
		fmt.Fprintf(w, "  damaged: %v\n", p)
	}
}
