package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

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
	if err := clearDemo(dir); err != nil {
		return withCode(exitFailure, err)
	}
	cfg, err := writeDemoConfig(dir, srv.Addr)
	if err != nil {
		return withCode(exitFailure, err)
	}
	fmt.Fprintf(g.stdout, "mailkeep demo: a fresh archive in %s\n", cfg.Archive)
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
		if err := backupAll(ctx, g, cfg, []*config.Account{&cfg.Accounts[0]}, log, output{progress: true}); err != nil {
			return err
		}
	}
	fmt.Fprintf(g.stdout, "\n== verify: decode every archived message and check it against the catalog\n")
	if err := verifyAll(ctx, g, cfg, []*config.Account{&cfg.Accounts[0]}, false, false); err != nil {
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

// demoMark begins the configuration the demo writes.
const demoMark = "# written by \"mailkeep demo\""

// clearDemo removes what an earlier demo left in dir, so that each demo
// starts from an empty archive and its headings say what happens. A dir
// that holds something else is refused.
func clearDemo(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, "mailkeep.yaml"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, err := os.Stat(filepath.Join(dir, "archive")); err == nil {
			return fmt.Errorf("%s holds an archive that no demo wrote: choose another --dir", dir)
		}
		return nil
	case err != nil:
		return err
	case !strings.HasPrefix(string(data), demoMark):
		return fmt.Errorf("%s/mailkeep.yaml was not written by the demo: choose another --dir", dir)
	}
	return os.RemoveAll(filepath.Join(dir, "archive"))
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
	text := fmt.Sprintf(demoMark+`
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
