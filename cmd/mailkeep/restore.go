package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailkeep/mailkeep/agent"
	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/progress"
	"github.com/mailkeep/mailkeep/replicate"
	"github.com/mailkeep/mailkeep/restore"
)

// restoreFlags are the command line of restore.
type restoreFlags struct {
	account, toAccount, into, asOf, from string
	fromRun                              int64
	folders, maps, ids                   []string
	dryRun, noProgress, json             bool
	labels                               bool
	messages                             []int64 // the catalog rows of ids
}

func restoreCommand(g *globals) *cobra.Command {
	var f restoreFlags
	cmd := &cobra.Command{
		Use:   "restore --account NAME|--id ACCOUNT/ID... [--to-account NAME] [--folder F]... [--as-of TIME] [--into PREFIX] [--map OLD=NEW]... [--dry-run]",
		Short: "Put an account's archived mail back on an IMAP server",
		Long: `restore APPENDs the archived messages of an account to its IMAP server, or with
--to-account to another IMAP account of the config, byte for byte with their flags, keywords
and dates. It creates missing folders and only adds messages the target does not hold yet,
so it can be run again after it finished or was interrupted without making duplicates. It
never changes or deletes what the target holds. It reads the archive without locking it.
An encrypted archive is read with the account's encryption.identity_file.

By default the latest state is restored: the folders and messages the last backup saw.
--as-of RUN|TIME restores the state of a backup run, with the flags messages had then: a
run id (mailkeep runs lists them), or the last run that started at or before a time: an RFC
3339 time (2026-11-01T08:00:00Z), a date (2026-11-01: the end of that day, local time) or an
age (3d, 12h). --folder (repeatable) names
an archive folder to restore, as the source server spelled it (its subfolders are folders of
their own: name them too). --id ACCOUNT/ID (repeatable; ids as find, show and ls print
them) restores exactly those messages, also ones deleted on the server, each into its own
folder; --account may then be left out. --into PREFIX restores
every folder below the target folder PREFIX ("Restored/INBOX", "Restored/Archive", ...).

Folders are mapped to the target: below its personal namespace prefix (NAMESPACE; "INBOX."
on Courier), without the source's, with its delimiter; special-use folders (Sent, Drafts,
Trash, Junk, Archive, All, Flagged) go to the target's folder of the same role whatever it
is called. --map 'OLD=NEW' (repeatable) sends the archive folder OLD, and the folders below
it, to NEW instead (levels separated by "/"; "\=" for a "=" in a name). A folder whose name
the target cannot hold is reported with a --map that would restore it; the others go on.
--dry-run reports what would be created and appended, and the mapping folder by folder, and
changes nothing.
--from reads a replica instead of the archive: s3://BUCKET/PREFIX (one of the account's s3
replicas in the configuration, whose endpoint and keys it uses) or a replica directory (the
dir of a replicate entry; the account's replica is DIR/ACCOUNT). A replica with keep_pruned
keeps the state it held before each prune; --from-run RUN reads the one that ends with run
RUN (verify --from lists them).

--labels, into a Gmail target (one with X-GM-EXT-1), restores each message once, into its
"[Gmail]/All Mail", and gives it its labels: those the backup recorded and those of the
folders that held it (INBOX, Sent and the others, each folder's name as a label), instead
of one message per folder. Trash and Spam are restored as folders.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRestore(cmd.Context(), g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.account, "account", "", "account whose archive is restored (required without --id)")
	fl.StringVar(&f.toAccount, "to-account", "", "IMAP account of the config to restore into (default: --account)")
	fl.StringArrayVar(&f.folders, "folder", nil, "archive folder to restore (repeatable; default: all)")
	fl.StringArrayVar(&f.ids, "id", nil, "restore only this message, ACCOUNT/ID as find prints it (repeatable)")
	fl.StringVar(&f.asOf, "as-of", "", "restore the state of this run: a run id, a date, an RFC 3339 time or an age (3d)")
	fl.StringVar(&f.into, "into", "", "target folder below which the folders are restored")
	fl.StringArrayVar(&f.maps, "map", nil, "restore archive folder OLD (and below) as NEW: 'OLD=NEW' (repeatable)")
	fl.StringVar(&f.from, "from", "", "read a replica instead of the archive: s3://BUCKET/PREFIX or a directory")
	fl.Int64Var(&f.fromRun, "from-run", 0, "with --from: read the kept state of the replica that ends with this run")
	fl.BoolVar(&f.dryRun, "dry-run", false, "say what would be created and appended; change nothing")
	fl.BoolVar(&f.labels, "labels", false, "into Gmail: each message once, with its folders as labels")
	fl.BoolVar(&f.noProgress, "no-progress", false, "no progress bar, even on a terminal")
	fl.BoolVar(&f.json, "json", false, "print one JSON object instead of the summary")
	return cmd
}

func runRestore(ctx context.Context, g *globals, f restoreFlags) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	if err := resolveIDs(ctx, cfg, &f); err != nil {
		return err
	}
	src, dst, err := restoreAccounts(cfg, f)
	if err != nil {
		return err
	}
	warn(log, cfg, dst.Name)
	return restoreAccount(ctx, g, cfg.Archive, src, dst, f, log)
}

// restoreAccount restores src's archive into dst and prints the summary.
func restoreAccount(ctx context.Context, g *globals, root string, src, dst *config.Account, f restoreFlags, log *slog.Logger) error {
	opts := restore.Options{Dial: agent.IMAPDialer(dst, log), Connections: dst.Connections,
		Folders: f.folders, Messages: f.messages, Into: f.into, DryRun: f.dryRun, Labels: f.labels, Now: time.Now,
		Log: log.With("account", src.Name, "target", dst.Name)}
	asOf, err := archive.ParseAsOf(f.asOf, time.Now(), time.Local, config.ParseDuration)
	if err != nil {
		return withCode(exitUsage, err)
	}
	opts.AsOf = asOf
	if opts.Map, err = parseMaps(f.maps); err != nil {
		return withCode(exitUsage, err)
	}
	if f.fromRun != 0 && f.from == "" {
		return withCode(exitUsage, errors.New("--from-run needs --from"))
	}
	if f.from != "" {
		rp, err := openReplica(ctx, src, f.from, f.fromRun)
		if err != nil {
			return accountError(err)
		}
		defer rp.Close()
		opts.Snapshot = rp.Snapshot
	}
	keys, err := agent.ReadKeys(src)
	if err != nil {
		return withCode(exitFailure, err)
	}
	if keys != nil {
		opts.Identities = keys.Identities
	}
	p := progress.New(g.stderr, src.Name+" → "+dst.Name, !f.noProgress && !f.json, log, "restoring folder")
	opts.Progress = p
	res, err := restore.Run(ctx, root, src.Name, opts)
	p.Done()
	switch {
	case f.json:
		printJSON(g.stdout, restoreJSON(src.Name, dst.Name, f.dryRun, res, err))
	case res.Folders > 0: // the restore began: say what it did
		printRestoreSummary(g.stdout, src.Name, dst.Name, f.dryRun, res, err)
		if f.dryRun {
			printMapping(g.stdout, res.Mapping)
		}
	}
	return restoreError(err)
}

// resolveIDs turns --id into catalog rows of one account, which becomes
// --account when it is not given.
func resolveIDs(ctx context.Context, cfg *config.Config, f *restoreFlags) error {
	switch {
	case len(f.ids) == 0 && f.account == "":
		return withCode(exitUsage, errors.New("restore needs --account or --id"))
	case len(f.ids) == 0:
		return nil
	case len(f.folders) > 0:
		return withCode(exitUsage, errors.New("--id and --folder: choose one"))
	case f.from != "":
		return withCode(exitUsage, errors.New("--id and --from: choose one (ids name messages of the archive)"))
	}
	for _, id := range f.ids {
		name, _, _ := strings.Cut(id, "/")
		if f.account == "" {
			f.account = name
		}
		if name != f.account {
			return withCode(exitUsage, fmt.Errorf("--id %s is not a message of account %s: restore one account at a time", id, f.account))
		}
		snap, m, _, err := openMessageID(ctx, cfg, id)
		if err != nil {
			return err
		}
		snap.Close()
		f.messages = append(f.messages, m.ID)
	}
	return nil
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
	case errors.Is(err, restore.ErrNoFolder), errors.Is(err, restore.ErrNoMessage), errors.Is(err, archive.ErrNoRun),
		errors.Is(err, restore.ErrLabels):
		return withCode(exitUsage, err)
	}
	return withCode(exitFailure, err)
}

// restoreReport is a restore for --json.
type restoreReport struct {
	Account        string         `json:"account"`
	Target         string         `json:"target"`
	Outcome        string         `json:"outcome"`
	DryRun         bool           `json:"dry_run"`
	Run            int64          `json:"run,omitempty"` // the run whose state was restored; absent for the latest
	Folders        int            `json:"folders"`
	Created        int            `json:"created"`
	Appended       int            `json:"appended"`
	Bytes          int64          `json:"bytes"`
	AlreadyPresent int            `json:"already_present"`
	Failed         int            `json:"failed"`
	Labelled       int            `json:"labelled,omitempty"` // --labels: messages given their labels
	Duration       float64        `json:"duration_seconds"`
	Error          string         `json:"error,omitempty"`
	Failures       []string       `json:"failures,omitempty"`
	Mapping        *mappingReport `json:"mapping,omitempty"`
}

func restoreJSON(src, dst string, dryRun bool, r restore.Result, err error) restoreReport {
	rep := restoreReport{Account: src, Target: dst, Outcome: restoreOutcome(err), DryRun: dryRun, Run: r.Run.ID,
		Folders: r.Folders, Created: r.Created, Appended: r.Appended, Bytes: r.Bytes, AlreadyPresent: r.Skipped,
		Failed: r.Failed, Labelled: r.Labelled, Duration: r.Duration.Seconds()}
	if err != nil {
		rep.Error = err.Error()
	}
	for _, f := range r.Failures {
		rep.Failures = append(rep.Failures, f.Error())
	}
	rep.Mapping = mappingJSON(r.Mapping)
	return rep
}

func restoreOutcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, restore.ErrPartial):
		return "partial"
	case errors.Is(err, context.Canceled):
		return "interrupted"
	}
	return "failed"
}

func printRestoreSummary(w io.Writer, src, dst string, dryRun bool, r restore.Result, err error) {
	outcome := restoreOutcome(err)
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
	if r.Labelled > 0 {
		fmt.Fprintf(w, "  labels set on %s\n", plural(r.Labelled, "message"))
	}
	printFailures(w, r.Failures)
}

// openReplica opens the replica of account a that from names (see
// agent.ReplicaFrom) for reading: the state it holds, or the kept state
// that ends with run.
func openReplica(ctx context.Context, a *config.Account, from string, run int64) (*replicate.Replica, error) {
	st, err := agent.ReplicaFrom(ctx, a, from)
	if err != nil {
		return nil, err
	}
	return replicate.OpenKept(ctx, st, "", run)
}
