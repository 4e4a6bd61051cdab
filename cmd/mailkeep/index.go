package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/index"
)

func indexCommand(g *globals) *cobra.Command {
	var rebuild bool
	cmd := &cobra.Command{
		Use:   "index [ACCOUNT...] [--rebuild]",
		Short: "Bring the search index up to date with the archive, or rebuild it",
		Long: `Backups fill each account's search index as they archive, so this is rarely needed:
after a backup was interrupted, after the index was removed, or for an account whose archive
was written before it had an index. index adds every archived message the index lacks and
drops what the archive no longer holds; --rebuild empties the index and builds it again from
the archive alone, then compacts it. Accounts with index: false are skipped.

index takes the account's lock, as a backup does: while a backup of the account runs it
exits 4 (busy), and the backup brings the index up to date itself.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, cfg, accts, err := g.setup(args)
			if err != nil {
				return err
			}
			var worst error
			for _, a := range accts {
				worst = worse(worst, indexAccount(cmd.Context(), g, cfg.Archive, a, rebuild, log))
				if cmd.Context().Err() != nil {
					break
				}
			}
			return worst
		},
	}
	cmd.Flags().BoolVar(&rebuild, "rebuild", false, "empty the index and build it again from the archive")
	return cmd
}

func indexAccount(ctx context.Context, g *globals, root string, a *config.Account, rebuild bool, log *slog.Logger) error {
	switch {
	case a.Encrypted():
		fmt.Fprintf(g.stdout, "%s: skipped — it is encrypted, and an encrypted account has no index\n", a.Name)
		return nil
	case !a.IndexOn():
		fmt.Fprintf(g.stdout, "%s: skipped — its index is off (index: false)\n", a.Name)
		return nil
	}
	snap, err := archive.OpenSnapshot(ctx, root, a.Name)
	if errors.Is(err, archive.ErrNoArchive) {
		fmt.Fprintf(g.stdout, "%s: skipped — no archive yet\n", a.Name)
		return nil
	}
	if err != nil {
		return reportIndex(g, a.Name, accountError(err))
	}
	snap.Close()
	// The account's lock: no backup writes the index meanwhile.
	arch, err := archive.OpenWriter(ctx, root, a.Name, log)
	if err != nil {
		return reportIndex(g, a.Name, accountError(err))
	}
	defer arch.Close()
	start := time.Now()
	n, err := index.CatchupAccount(ctx, root, a.Name, rebuild, log.With("account", a.Name))
	if err != nil {
		return reportIndex(g, a.Name, accountError(err))
	}
	done := "caught up"
	if rebuild {
		done = "rebuilt"
	}
	fmt.Fprintf(g.stdout, "%s: index %s — %s indexed, %s, %s\n", a.Name, done, plural(n, "message"),
		indexBytes(ctx, filepath.Join(root, a.Name)), time.Since(start).Round(time.Millisecond))
	return nil
}

func reportIndex(g *globals, name string, err error) error {
	fmt.Fprintf(g.stdout, "%s: failed — %v\n", name, err)
	return err
}

// indexBytes is the size of an account's index, for a summary.
func indexBytes(ctx context.Context, dir string) string {
	ix, err := index.OpenReadOnly(ctx, dir)
	if err != nil {
		return "size unknown"
	}
	defer ix.Close()
	n, err := ix.Size()
	if err != nil {
		return "size unknown"
	}
	return humanBytes(n) + " on disk"
}
