package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/progress"
	"github.com/mailkeep/mailkeep/replicate"
)

// ReplicaResult is one replica's part of Replicate.
type ReplicaResult struct {
	Replica string // as the configuration names it: s3://bucket/prefix or the directory
	replicate.Result
	Err error
}

// Replicate brings every replica of account a up to date with its archive
// under root, one after the other: the job the agent runs after each
// successful backup, and "mailkeep replicate" runs once. A replica that
// fails does not stop the next. sink gives each replica its progress sink
// (nil: none).
func Replicate(ctx context.Context, root string, a *config.Account, log *slog.Logger, sink func(replica string) progress.Sink) []ReplicaResult {
	out := make([]ReplicaResult, 0, len(a.Replicate))
	for _, r := range a.Replicate {
		res := ReplicaResult{Replica: r.String()}
		opts := replicate.Options{KeepPruned: r.KeepPruned, Log: log.With("account", a.Name, "replica", res.Replica)}
		if sink != nil {
			opts.Progress = sink(res.Replica)
		}
		st, err := ReplicaStore(ctx, r, a.Name)
		if err == nil {
			res.Result, err = replicate.Run(ctx, root, a.Name, st, opts)
		}
		res.Err = err
		out = append(out, res)
		if ctx.Err() != nil {
			break
		}
	}
	return out
}

// ReplicaStore opens the store of replica r of an account.
func ReplicaStore(ctx context.Context, r config.Replica, account string) (replicate.Store, error) {
	if r.Dir != "" {
		return replicate.NewDir(r.Dir, account)
	}
	access, secret, err := r.S3.Keys()
	if err != nil {
		return nil, err
	}
	return replicate.NewS3(ctx, replicate.S3Options{Endpoint: r.S3.Endpoint, Bucket: r.S3.Bucket, Prefix: r.S3.Prefix,
		Region: r.S3.Region, AccessKey: access, SecretKey: secret}, account)
}

// ReplicaFrom opens the replica of account a that from names: s3://bucket/prefix,
// which must be one of the account's s3 replicas (whose endpoint and keys
// it takes), or a directory holding replicas (<dir>/<account>).
func ReplicaFrom(ctx context.Context, a *config.Account, from string) (replicate.Store, error) {
	rest, ok := strings.CutPrefix(from, "s3://")
	if !ok {
		return replicate.NewDir(from, a.Name)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	var known []string
	for _, r := range a.Replicate {
		if r.Dir != "" {
			continue
		}
		if r.S3.Bucket == bucket && r.S3.Prefix == prefix {
			return ReplicaStore(ctx, r, a.Name)
		}
		known = append(known, r.String())
	}
	if len(known) == 0 {
		return nil, fmt.Errorf("account %q has no s3 replica in the configuration: --from %s needs its endpoint and keys", a.Name, from)
	}
	return nil, fmt.Errorf("account %q has no replica s3://%s/%s in the configuration (it has %s)", a.Name, bucket, prefix,
		strings.Join(known, ", "))
}

// replicable reports whether a backup's outcome is one after which the
// agent replicates: ok or partial.
func replicable(err error) bool { return err == nil || errors.Is(err, backup.ErrPartial) }

// replicate is the agent's replication after a successful backup of acct.
func (a *Agent) replicate(ctx context.Context, root string, acct *config.Account, log *slog.Logger) {
	log.Info("replicate started", "replicas", len(acct.Replicate))
	for _, r := range Replicate(ctx, root, acct, a.log, nil) {
		a.metrics.observeReplica(acct.Name, r.Replica, r.Err, time.Now())
		if r.Err != nil && !errors.Is(r.Err, replicate.ErrPartial) {
			log.Error("replicate failed", "replica", r.Replica, "err", r.Err)
			continue
		}
		log.Info("replicate finished", "replica", r.Replica, "run", r.Run, "sent", r.Sent, "sent_bytes", r.SentBytes,
			"present", r.Present, "removed", r.Removed, "catalog_sent", r.CatalogSent, "missing", len(r.Missing),
			"duration", r.Duration.Round(time.Millisecond))
		if r.Err != nil {
			log.Warn("replica incomplete", "replica", r.Replica, "err", r.Err)
		}
	}
}
