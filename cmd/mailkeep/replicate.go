package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailkeep/mailkeep/agent"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/progress"
	"github.com/mailkeep/mailkeep/replicate"
)

func replicateCommand(g *globals) *cobra.Command {
	var noProgress, asJSON bool
	cmd := &cobra.Command{
		Use:   "replicate [ACCOUNT...]",
		Short: "Bring the copies of the archive elsewhere (S3, another directory) up to date",
		Long: `replicate copies each account's archive to the replicas its configuration lists
(replicate: s3 or dir): the message files a replica lacks, then a consistent copy of the
catalog, published last. A replica is always a complete archive as of some backup run; an
interrupted replicate leaves it at its previous state and the next one sends only what did
not arrive. A flag change sends no message again. Messages that prune removed leave a
replica unless it has keep_pruned. Without ACCOUNT, every account that has replicas.
It reads the archive without locking it, so backups go on meanwhile.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, cfg, accts, err := g.setup(args)
			if err != nil {
				return err
			}
			accts, err = withReplicas(accts, len(args) > 0)
			if err != nil {
				return err
			}
			return replicateAll(cmd.Context(), g, cfg, accts, log, output{json: asJSON, progress: !noProgress && !asJSON})
		},
	}
	cmd.Flags().BoolVar(&noProgress, "no-progress", false, "no progress bar, even on a terminal")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per replica instead of the summary")
	return cmd
}

// withReplicas keeps the accounts that have replicas; an account named on
// the command line without one is an error.
func withReplicas(accts []*config.Account, named bool) ([]*config.Account, error) {
	var out []*config.Account
	for _, a := range accts {
		switch {
		case len(a.Replicate) > 0:
			out = append(out, a)
		case named:
			return nil, withCode(exitUsage, fmt.Errorf("account %q has no replicate list in the configuration", a.Name))
		}
	}
	if len(out) == 0 {
		return nil, withCode(exitUsage, errors.New("no account has a replicate list in the configuration"))
	}
	return out, nil
}

func replicateAll(ctx context.Context, g *globals, cfg *config.Config, accts []*config.Account, log *slog.Logger, out output) error {
	var worst error
	for _, a := range accts {
		var shown []*progress.Display
		sink := func(replica string) progress.Sink {
			p := progress.New(g.stderr, a.Name+" → "+replica, out.progress, log, "replicating")
			shown = append(shown, p)
			return p
		}
		results := agent.Replicate(ctx, cfg.Archive, a, log, sink)
		for _, p := range shown {
			p.Done()
		}
		for _, r := range results {
			err := replicateError(r.Err)
			if out.json {
				printJSON(g.stdout, replicateJSON(a.Name, r, err))
			} else {
				printReplicate(g.stdout, a.Name, r, err)
			}
			worst = worse(worst, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	return worst
}

// replicateError maps a replica's failure to its exit code.
func replicateError(err error) error {
	switch {
	case errors.Is(err, replicate.ErrPartial):
		return withCode(exitPartial, err)
	case errors.Is(err, replicate.ErrBusy):
		return withCode(exitBusy, err)
	}
	return accountError(err)
}

// replicateReport is one replica's replicate for --json.
type replicateReport struct {
	Account     string   `json:"account"`
	Replica     string   `json:"replica"`
	Outcome     string   `json:"outcome"` // ok, partial, failed, interrupted
	Run         int64    `json:"run,omitempty"`
	Messages    int      `json:"messages"`
	Objects     int      `json:"objects"`
	Sent        int      `json:"sent"`
	SentBytes   int64    `json:"sent_bytes"`
	Present     int      `json:"present"`
	Removed     int      `json:"removed"`
	CatalogSent bool     `json:"catalog_sent"`
	Missing     []string `json:"missing,omitempty"`
	Duration    float64  `json:"duration_seconds"`
	Error       string   `json:"error,omitempty"`
}

func replicateJSON(account string, r agent.ReplicaResult, err error) replicateReport {
	rep := replicateReport{Account: account, Replica: r.Replica, Outcome: replicateOutcome(err), Run: r.Run,
		Messages: r.Messages, Objects: r.Objects, Sent: r.Sent, SentBytes: r.SentBytes, Present: r.Present,
		Removed: r.Removed, CatalogSent: r.CatalogSent, Duration: r.Duration.Seconds()}
	for _, m := range r.Missing {
		rep.Missing = append(rep.Missing, fmt.Sprintf("folder %q message %s: %s", m.Folder, m.Key, m.Error))
	}
	if err != nil {
		rep.Error = err.Error()
	}
	return rep
}

func replicateOutcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, replicate.ErrPartial):
		return "partial"
	case errors.Is(err, context.Canceled):
		return "interrupted"
	}
	return "failed"
}

func printReplicate(w io.Writer, account string, r agent.ReplicaResult, err error) {
	outcome := replicateOutcome(err)
	if r.Run == 0 || (outcome != "ok" && outcome != "partial") {
		fmt.Fprintf(w, "%s → %s: %s — %v\n", account, r.Replica, outcome, err)
		return
	}
	catalog := "state unchanged"
	if r.CatalogSent {
		catalog = "catalog sent"
	}
	fmt.Fprintf(w, "%s → %s: %s — state of run %d, %s, %s sent (%s), %d already there, %d removed, %s, %s\n",
		account, r.Replica, outcome, r.Run, plural(r.Messages, "message"), plural(r.Sent, "file"), humanBytes(r.SentBytes),
		r.Present, r.Removed, catalog, r.Duration.Round(time.Millisecond))
	for i, m := range r.Missing {
		if i == 10 {
			fmt.Fprintf(w, "  … and %d more\n", len(r.Missing)-10)
			break
		}
		fmt.Fprintf(w, "  not replicated: folder %q message %s: %s\n", m.Folder, m.Key, m.Error)
	}
}
