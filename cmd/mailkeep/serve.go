package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailkeep/mailkeep/agent"
	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/config"
)

func serveCommand(g *globals) *cobra.Command {
	var listen, asOf, from string
	cmd := &cobra.Command{
		Use:   "serve [--listen ADDR] [--as-of RUN|DATE] [ACCOUNT...]",
		Short: "Serve the archive as a read-only IMAP server, for any mail client",
		Long: `serve makes the archive of every account of the config, or of the named ones, an IMAP
server that any mail client can browse. The user name is the account's name, the password
the one of the config's serve section. Nothing can be changed through it: SELECT answers
READ-ONLY, and STORE, APPEND, COPY, MOVE, EXPUNGE, CREATE, DELETE and RENAME are refused. It
writes nothing into the archive and takes no lock, so backups run meanwhile; a client sees
a folder as it was when it selected it, and the newest state when it selects again.

Each account has a folder mailkeep/Gone with the messages the archive kept after the
server deleted them. --as-of RUN|TIME serves each folder as it was at a backup run: a run
id, or the last run that started at or before an RFC 3339 time (2026-11-01T08:00:00Z), a
date (2026-11-01: the end of that day, local time) or an age (3d, 12h).

--listen overrides serve.listen. An address that is not loopback needs serve.tls_cert and
serve.tls_key. SIGINT or SIGTERM stop it.

--from s3://BUCKET/PREFIX or --from DIR serves the accounts' replicas instead of the archive
(as restore --from reads them): each session reads the state the replica holds when it logs
in.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServe(cmd.Context(), g, args, listen, asOf, from)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "host:port to serve on (default serve.listen, 127.0.0.1:1143)")
	cmd.Flags().StringVar(&asOf, "as-of", "", "serve the state of this run: a run id, a date, an RFC 3339 time or an age (3d)")
	cmd.Flags().StringVar(&from, "from", "", "serve the accounts' replicas: s3://BUCKET/PREFIX or a directory")
	return cmd
}

func runServe(ctx context.Context, g *globals, names []string, listen, asOf, from string) error {
	log, cfg, accts, err := g.setup(names)
	if err != nil {
		return err
	}
	at, err := archive.ParseAsOf(asOf, time.Now(), time.Local, config.ParseDuration)
	if err != nil {
		return withCode(exitUsage, err)
	}
	opts := agent.ServeOptions{Listen: listen, AsOf: at}
	if from != "" {
		opts.Open = func(ctx context.Context, name string) (*archive.Snapshot, error) {
			a, err := cfg.Account(name)
			if err != nil {
				return nil, err
			}
			rp, err := openReplica(ctx, a, from, 0)
			if err != nil {
				return nil, err
			}
			return rp.Snapshot, nil
		}
	}
	for _, a := range accts {
		opts.Accounts = append(opts.Accounts, a.Name)
	}
	srv, err := agent.NewServer(ctx, cfg, opts, log)
	switch {
	case errors.Is(err, agent.ErrConfig), errors.Is(err, archive.ErrNoRun):
		return withCode(exitUsage, err)
	case err != nil:
		return withCode(exitFailure, err)
	}
	fmt.Fprintf(g.stderr, "serving %d accounts on %s (IMAP, read-only); stop with Ctrl-C\n", len(opts.Accounts), srv.Addr())
	return withCode(exitFailure, srv.Serve(ctx))
}
