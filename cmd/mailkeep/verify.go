package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/config"
)

func verifyCommand(g *globals) *cobra.Command {
	var repair bool
	var rebuild string
	cmd := &cobra.Command{
		Use:   "verify [ACCOUNT...]",
		Short: "Check every archived message against the catalog; --repair fixes what can be fixed",
		Long: `verify decodes every message file and checks its size and SHA-256 against the
catalog, and finds catalog rows without files, files without rows, file names Dovecot would
reject (wrong S= or W=), undecodable files, stale temp files and catalog inconsistencies.
It reports by default; --repair fixes what can be fixed and says what cannot.
--rebuild-catalog ACCOUNT replaces an account's catalog with one rebuilt from its Maildir tree.`,
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
			return verifyAll(cmd.Context(), g, cfg, accts, repair)
		},
	}
	cmd.Flags().BoolVar(&repair, "repair", false, "fix what can be fixed")
	cmd.Flags().StringVar(&rebuild, "rebuild-catalog", "", "rebuild this account's catalog from its Maildir tree")
	return cmd
}

func verifyAll(ctx context.Context, g *globals, cfg *config.Config, accts []*config.Account, repair bool) error {
	var worst error
	for _, a := range accts {
		worst = worse(worst, verifyAccount(ctx, g, cfg.Archive, a.Name, repair))
	}
	return worst
}

func verifyAccount(ctx context.Context, g *globals, root, name string, repair bool) error {
	arch, err := archive.OpenWriter(ctx, root, name, nil)
	if err != nil {
		return accountError(err)
	}
	defer arch.Close()
	rep, err := arch.Verify(ctx, archive.VerifyOptions{Repair: repair})
	if err != nil {
		return accountError(err)
	}
	printReport(g, name, rep)
	if n := rep.Unrepaired(); n > 0 {
		return withCode(exitProblems, fmt.Errorf("%s: %d problems found", name, n))
	}
	return nil
}

func printReport(g *globals, name string, rep archive.Report) {
	state := "clean"
	if len(rep.Problems) > 0 {
		state = fmt.Sprintf("%d problems, %d unrepaired", len(rep.Problems), rep.Unrepaired())
	}
	fmt.Fprintf(g.stdout, "%s: %s — %d folders, %d messages (%s) checked\n", name, state, rep.Folders,
		rep.Messages, humanBytes(rep.Bytes))
	for _, p := range rep.Problems {
		fmt.Fprintf(g.stdout, "  %s\n", p)
	}
}

func rebuildCatalog(ctx context.Context, g *globals, cfg *config.Config, name string) error {
	if _, err := cfg.Account(name); err != nil {
		return withCode(exitUsage, err)
	}
	arch, err := archive.OpenWriter(ctx, cfg.Archive, name, nil)
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
	return accountError(err)
}
