package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/internal/demo"
)

func demoCommand(g *globals) *cobra.Command {
	var dir string
	var count int
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Back up an in-process IMAP server filled with generated mail (no outside server needed)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), g, dir, count)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "mailkeep-demo", "where the demo writes its config and archive")
	cmd.Flags().IntVar(&count, "messages", 300, "how many messages the demo server starts with")
	return cmd
}

func runDemo(ctx context.Context, g *globals, dir string, count int) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	srv, err := demo.Start(ctx, count)
	if err != nil {
		return withCode(exitFailure, fmt.Errorf("start demo server: %w", err))
	}
	defer srv.Close()
	cfg, err := writeDemoConfig(dir, srv.Addr)
	if err != nil {
		return withCode(exitFailure, err)
	}
	steps := []struct {
		say     string
		deliver int
	}{
		{"first backup: every folder and message", 0},
		{"second backup: nothing changed, nothing fetched", 0},
		{"25 new messages arrive; third backup fetches only those", 25},
	}
	for i, s := range steps {
		if s.deliver > 0 {
			if err := srv.Deliver(ctx, s.deliver, i); err != nil {
				return withCode(exitFailure, err)
			}
		}
		fmt.Fprintf(g.stdout, "\n== %s\n", s.say)
		if err := backupAll(ctx, g, cfg, []*config.Account{&cfg.Accounts[0]}, log, true); err != nil {
			return err
		}
	}
	fmt.Fprintf(g.stdout, "\n== verify: decode every archived message and check it against the catalog\n")
	if err := verifyAccount(ctx, g, cfg.Archive, "demo", false); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "\n== restore into an empty second account, twice: the second run adds nothing\n")
	for range 2 {
		err := restoreAccount(ctx, g, cfg.Archive, &cfg.Accounts[0], &cfg.Accounts[1], restoreFlags{}, log)
		if err != nil {
			return err
		}
	}
	printDemoEnd(g, cfg)
	return nil
}

func writeDemoConfig(dir, addr string) (*config.Config, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(addr)
	text := fmt.Sprintf(`# written by "mailkeep demo"
archive: %s/archive
accounts:
  - name: demo
    protocol: imap
    host: %s
    port: %s
    tls: none
    username: %s
    password_env: MAILKEEP_DEMO_PASSWORD
  - name: restored
    protocol: imap
    host: %s
    port: %s
    tls: none
    username: %s
    password_env: MAILKEEP_DEMO_PASSWORD
`, abs, host, port, demo.User, host, port, demo.RestoreUser)
	path := filepath.Join(abs, "mailkeep.yaml")
	if err := os.WriteFile(path, []byte(text), 0o640); err != nil {
		return nil, err
	}
	os.Setenv("MAILKEEP_DEMO_PASSWORD", demo.Password)
	return config.Load(path)
}

func printDemoEnd(g *globals, cfg *config.Config) {
	mail := filepath.Join(cfg.Archive, "demo", "mail")
	fmt.Fprintf(g.stdout, `
The archive is in %s
  catalog:  %s
  Maildir:  %s (zstd-compressed files, one Maildir per folder)
Dovecot (with the zlib plugin) serves it as a mailbox with:
  mail_location = maildir:%s:LAYOUT=fs:DIRNAME=.mk:INBOX=%s/INBOX/.mk:INDEX=MEMORY
`, filepath.Dir(mail), filepath.Join(cfg.Archive, "demo", "catalog.db"), mail, mail, mail)
}
