// Command mailkeep backs up IMAP folders and POP3 inboxes into compressed
// Maildir archives, and restores them over IMAP.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes, documented in the README.
const (
	exitOK          = 0
	exitFailure     = 1 // the run failed: server unreachable, login refused, archive error
	exitUsage       = 2 // bad command line or configuration
	exitPartial     = 3 // the run finished, but some messages or folders failed
	exitBusy        = 4 // another mailkeep process is backing up the account
	exitProblems    = 5 // verify found problems it did not repair
	exitNeedsLogin  = 6 // an OAuth2 account must be signed in again: mailkeep auth login ACCOUNT
	exitInterrupted = 130
)

// version is stamped at build time with -ldflags "-X main.version=…".
var version = "dev"

// exitError carries an exit code up to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

type globals struct {
	configPath string
	logFormat  string
	logLevel   string
	stdout     io.Writer
	stderr     io.Writer
}

// gcPercent is the heap growth mailkeep allows between collections, where
// GOGC does not say: its live heap is mostly buffers in flight, and a heap
// that may grow to 1.5 times it instead of Go's default of twice keeps a
// backup's peak RSS lower at no CPU cost measured (doc/design.md, *Scale:
// a million messages*).
const gcPercent = 50

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	root := rootCommand(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "mailkeep:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if ctx.Err() != nil {
		return exitInterrupted
	}
	return exitUsage // cobra's own errors: unknown flag or command
}

func rootCommand(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "mailkeep",
		Short:         "Back up IMAP and POP3 mail into compressed Maildir archives",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	pf := root.PersistentFlags()
	pf.StringVarP(&g.configPath, "config", "c", "", "config file (default $MAILKEEP_CONFIG or /etc/mailkeep/mailkeep.yaml)")
	pf.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	pf.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.AddCommand(authCommand(g), backupCommand(g), configCommand(g), demoCommand(g), exportCommand(g),
		findCommand(g), foldersCommand(g), indexCommand(g), lsCommand(g), pruneCommand(g), replicateCommand(g),
		restoreCommand(g), runCommand(g), runsCommand(g), serveCommand(g), showCommand(g), statusCommand(g),
		verifyCommand(g))
	return root
}

// logger builds the slog logger the flags ask for; logs go to stderr.
func (g *globals) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, withCode(exitUsage, fmt.Errorf("--log-level: %w", err))
	}
	ho := &slog.HandlerOptions{Level: level}
	switch g.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(g.stderr, ho)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(g.stderr, ho)), nil
	}
	return nil, withCode(exitUsage, fmt.Errorf("--log-format must be text or json, not %q", g.logFormat))
}
