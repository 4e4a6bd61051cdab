package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailkeep/mailkeep/agent"
	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/index"
	"github.com/mailkeep/mailkeep/replicate"
)

func verifyCommand(g *globals) *cobra.Command {
	var repair, asJSON, replica, quick bool
	var rebuild, from string
	cmd := &cobra.Command{
		Use:   "verify [ACCOUNT...]",
		Short: "Check every archived message against the catalog; --repair fixes what can be fixed",
		Long: `verify decodes every message file and checks its size and SHA-256 against the
catalog, and finds catalog rows without files, files without rows, file names Dovecot would
reject (wrong S= or W=), undecodable files, stale temp files and catalog inconsistencies.
It reports by default; --repair fixes what can be fixed and says what cannot.
--rebuild-catalog ACCOUNT replaces an account's catalog with one rebuilt from its Maildir tree.
--replica checks the accounts' replicas (replicate in the configuration) instead of the
archive: the catalog copy each holds, and for every message its object, read and checked
against the size and SHA-256 of its row (--quick: only that the object is there).
--from s3://BUCKET/PREFIX or --from DIR checks that one replica.
An encrypted account's files are decoded with its identity_file; without one, each file is
checked against the SHA-256 it was stored with, and its name against the catalog.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if rebuild != "" {
				args = []string{rebuild}
			}
			_, cfg, accts, err := g.setup(args)
			if err != nil {
				return err
			}
			if rebuild != "" {
				return rebuildCatalog(cmd.Context(), g, cfg, rebuild)
			}
			if replica || from != "" {
				return verifyReplicas(cmd.Context(), g, accts, from, replicate.CheckOptions{Quick: quick}, asJSON)
			}
			return verifyAll(cmd.Context(), g, cfg, accts, repair, asJSON)
		},
	}
	cmd.Flags().BoolVar(&repair, "repair", false, "fix what can be fixed")
	cmd.Flags().StringVar(&rebuild, "rebuild-catalog", "", "rebuild this account's catalog from its Maildir tree")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per account instead of the report")
	cmd.Flags().BoolVar(&replica, "replica", false, "check the accounts' replicas instead of the archive")
	cmd.Flags().StringVar(&from, "from", "", "check this replica: s3://BUCKET/PREFIX or a directory")
	cmd.Flags().BoolVar(&quick, "quick", false, "with --replica or --from: check that each object is there, without reading it")
	return cmd
}

func verifyAll(ctx context.Context, g *globals, cfg *config.Config, accts []*config.Account, repair, asJSON bool) error {
	var worst error
	for _, a := range accts {
		rep, err := verifyAccount(ctx, cfg.Archive, a, repair)
		if asJSON {
			printJSON(g.stdout, verifyJSON(a.Name, rep, err))
		} else {
			printReport(g, a.Name, rep, err)
		}
		worst = worse(worst, err)
	}
	return worst
}

func verifyAccount(ctx context.Context, root string, a *config.Account, repair bool) (archive.Report, error) {
	name := a.Name
	arch, err := openForVerify(ctx, root, a)
	if err != nil {
		return archive.Report{}, accountError(err)
	}
	defer arch.Close()
	rep, err := arch.Verify(ctx, archive.VerifyOptions{Repair: repair})
	if err != nil {
		return rep, accountError(err)
	}
	if n := rep.Unrepaired(); n > 0 {
		return rep, withCode(exitProblems, fmt.Errorf("%s: %d problems found", name, n))
	}
	return rep, nil
}

// openForVerify opens account a's archive for verify and its repairs:
// with the identities of an encrypted account's identity_file, if it has
// one, to decode every file; without, files are checked against the
// hashes they were stored with.
func openForVerify(ctx context.Context, root string, a *config.Account) (*archive.Writer, error) {
	keys, err := agent.ReadKeys(a)
	if err != nil {
		return nil, err
	}
	return archive.OpenWriterKeys(ctx, root, a.Name, nil, keys)
}

// verifyReport is one account's verify for --json.
type verifyReport struct {
	Account    string          `json:"account"`
	Outcome    string          `json:"outcome"` // clean, repaired, problems or failed
	Folders    int             `json:"folders"`
	Messages   int             `json:"messages"`
	Bytes      int64           `json:"bytes"`
	Shared     int             `json:"shared"` // messages whose file shares a content read once
	Unrepaired int             `json:"unrepaired"`
	HashesOnly bool            `json:"hashes_only,omitempty"` // encrypted, checked without the identity
	Problems   []verifyProblem `json:"problems"`
	Error      string          `json:"error,omitempty"`
}

type verifyProblem struct {
	Kind     string `json:"kind"`
	Folder   string `json:"folder"`
	Key      string `json:"key,omitempty"`
	Detail   string `json:"detail,omitempty"`
	Repaired bool   `json:"repaired"`
}

func verifyJSON(name string, rep archive.Report, err error) verifyReport {
	out := verifyReport{Account: name, Outcome: verifyOutcome(rep, err), Folders: rep.Folders, Messages: rep.Messages,
		Bytes: rep.Bytes, Shared: rep.Shared, Unrepaired: rep.Unrepaired(), HashesOnly: rep.HashesOnly,
		Problems: []verifyProblem{}}
	for _, p := range rep.Problems {
		out.Problems = append(out.Problems, verifyProblem{p.Kind, p.Folder, p.Key, p.Detail, p.Repaired})
	}
	if err != nil {
		out.Error = err.Error()
	}
	return out
}

func verifyOutcome(rep archive.Report, err error) string {
	switch {
	case code(err) == exitProblems:
		return "problems"
	case err != nil:
		return "failed"
	case len(rep.Problems) > 0:
		return "repaired"
	}
	return "clean"
}

func printReport(g *globals, name string, rep archive.Report, err error) {
	if err != nil && code(err) != exitProblems {
		fmt.Fprintf(g.stdout, "%s: failed — %v\n", name, err)
		return
	}
	state := "clean"
	if len(rep.Problems) > 0 {
		state = fmt.Sprintf("%s, %d unrepaired", plural(len(rep.Problems), "problem"), rep.Unrepaired())
	}
	shared := ""
	if rep.Shared > 0 {
		shared = fmt.Sprintf(", %d of them sharing content read once", rep.Shared)
	}
	fmt.Fprintf(g.stdout, "%s: %s — %s, %s (%s) checked%s%s\n", name, state, plural(rep.Folders, "folder"),
		plural(rep.Messages, "message"), humanBytes(rep.Bytes), shared, hashesOnly(rep))
	for _, p := range rep.Problems {
		fmt.Fprintf(g.stdout, "  %s\n", p)
	}
}

// hashesOnly notes, after the counts, that an encrypted archive was
// checked without its identity.
func hashesOnly(rep archive.Report) string {
	if !rep.HashesOnly {
		return ""
	}
	return " against the hashes they were stored with (encrypted; identity_file decodes them too)"
}

func rebuildCatalog(ctx context.Context, g *globals, cfg *config.Config, name string) error {
	a, err := cfg.Account(name)
	if err != nil {
		return withCode(exitUsage, err)
	}
	arch, err := openForVerify(ctx, cfg.Archive, a)
	if err != nil {
		return accountError(err)
	}
	defer arch.Close()
	rep, err := arch.RebuildCatalog(ctx, time.Now())
	if err != nil && !errors.Is(err, context.Canceled) {
		return withCode(exitFailure, err)
	}
	fmt.Fprintf(g.stdout, "%s: catalog rebuilt — %d folders, %d messages (%s)\n", name, rep.Folders, rep.Messages, humanBytes(rep.Bytes))
	for _, p := range rep.Problems {
		fmt.Fprintf(g.stdout, "  %s\n", p)
	}
	if err == nil {
		reindex(ctx, g, cfg, name)
	}
	return accountError(err)
}

// reindex brings the search index in line with a rebuilt catalog, whose
// rows are numbered anew (the caller holds the account's lock). A failure
// is reported, not fatal: the next backup or "mailkeep index" catches up.
func reindex(ctx context.Context, g *globals, cfg *config.Config, name string) {
	a, err := cfg.Account(name)
	if err != nil || !a.IndexOn() {
		return
	}
	n, err := index.CatchupAccount(ctx, cfg.Archive, name, false, nil)
	if err != nil {
		fmt.Fprintf(g.stdout, "  search index not updated: %v (mailkeep index %s retries)\n", err, name)
		return
	}
	fmt.Fprintf(g.stdout, "  search index updated: %s indexed again\n", plural(n, "message"))
}

// verifyReplicas checks the replicas of accts: the one from names, or
// every one the configuration lists.
func verifyReplicas(ctx context.Context, g *globals, accts []*config.Account, from string, opts replicate.CheckOptions, asJSON bool) error {
	var worst error
	checked := 0
	for _, a := range accts {
		names := []string{from}
		if from == "" {
			names = nil
			for _, r := range a.Replicate {
				names = append(names, r.String())
			}
		}
		for _, name := range names {
			checked++
			rep, err := verifyReplica(ctx, a, name, opts)
			label := a.Name + " → " + name
			if asJSON {
				printJSON(g.stdout, verifyJSON(label, rep.Report, err))
				continue
			}
			printReport(g, label, rep.Report, err)
			if len(rep.Kept) > 0 {
				fmt.Fprintf(g.stdout, "  kept states (restore --from-run): runs %s\n", strings.Trim(fmt.Sprint(rep.Kept), "[]"))
			}
			if rep.Unnamed > 0 {
				fmt.Fprintf(g.stdout, "  %s that no row names (keep_pruned keeps them; else the next replicate removes them)\n",
					plural(rep.Unnamed, "message object"))
			}
			worst = worse(worst, err)
		}
	}
	if checked == 0 {
		return withCode(exitUsage, errors.New("no account has a replicate list in the configuration"))
	}
	return worst
}

func verifyReplica(ctx context.Context, a *config.Account, from string, opts replicate.CheckOptions) (replicate.Report, error) {
	st, err := agent.ReplicaFrom(ctx, a, from)
	if err != nil {
		return replicate.Report{}, accountError(err)
	}
	rep, err := replicate.Check(ctx, st, opts)
	if err != nil {
		return rep, accountError(err)
	}
	if n := rep.Unrepaired(); n > 0 {
		return rep, withCode(exitProblems, fmt.Errorf("%s: %s: %d problems found", a.Name, st, n))
	}
	return rep, nil
}
