package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/mailkeep/mailkeep/agent"
	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/index"
)

func showCommand(g *globals) *cobra.Command {
	var headers, text bool
	cmd := &cobra.Command{
		Use:   "show [--headers|--text] ACCOUNT/ID",
		Short: "Print one archived message: raw, its header, or its decoded text",
		Long: `show prints an archived message to stdout exactly as the server sent it, checked
against its recorded size and SHA-256 as it is read. --headers prints its header only, as
stored; --text prints its decoded sender, recipients, subject and date, then the text of its
body (HTML turned into text) and the names of its attachments, for reading on a terminal.

The id is the account's name, a slash and the message's 12-digit id, as find and ls print
it (work/3f9a1c07d2e4), or a prefix of at least 8 digits that names one message. An id
resolves with the search index off or behind: show then looks through the catalog.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if headers && text {
				return withCode(exitUsage, errors.New("--headers and --text: choose one"))
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			return runShow(cmd.Context(), g, cfg, args[0], headers, text)
		},
	}
	cmd.Flags().BoolVar(&headers, "headers", false, "print the message's header only")
	cmd.Flags().BoolVar(&text, "text", false, "print the decoded text, for a terminal")
	return cmd
}

func runShow(ctx context.Context, g *globals, cfg *config.Config, id string, headers, text bool) error {
	snap, m, st, err := openMessageID(ctx, cfg, id)
	if err != nil {
		return err
	}
	defer snap.Close()
	f, err := snap.Folder(st)
	if err != nil {
		return withCode(exitFailure, err)
	}
	rc, err := f.OpenMessage(m)
	if err != nil {
		return withCode(exitFailure, fmt.Errorf("%s: %w", id, err))
	}
	defer rc.Close()
	switch {
	case headers:
		err = copyHeader(g.stdout, rc)
	case text:
		err = printText(g, rc, m, st)
	default:
		_, err = io.Copy(g.stdout, rc)
	}
	if err != nil {
		return withCode(exitFailure, fmt.Errorf("%s: %w", id, err))
	}
	return nil
}

// openMessageID resolves ACCOUNT/ID to its catalog row in the account's
// read view, which the caller closes. A malformed, unknown or ambiguous
// id is a command-line error.
func openMessageID(ctx context.Context, cfg *config.Config, id string) (*archive.Snapshot, archive.Message, archive.FolderState, error) {
	name, handle, ok := strings.Cut(id, "/")
	if !ok || name == "" {
		return nil, archive.Message{}, archive.FolderState{}, withCode(exitUsage,
			fmt.Errorf("message id %q: want ACCOUNT/ID, as find prints it (work/3f9a1c07d2e4)", id))
	}
	a, err := cfg.Account(name)
	if err != nil {
		return nil, archive.Message{}, archive.FolderState{}, withCode(exitUsage, fmt.Errorf("message id %q: %w", id, err))
	}
	snap, err := readSnapshot(ctx, cfg.Archive, a)
	if err != nil {
		return nil, archive.Message{}, archive.FolderState{}, withCode(exitFailure, err)
	}
	m, st, err := index.Resolve(ctx, snap, handle)
	if err != nil {
		snap.Close()
		code := exitFailure
		if errors.Is(err, index.ErrBadHandle) || errors.Is(err, index.ErrNotFound) || errors.Is(err, index.ErrAmbiguous) {
			code = exitUsage
		}
		return nil, archive.Message{}, archive.FolderState{}, withCode(code, fmt.Errorf("message id %q: %w", id, err))
	}
	return snap, m, st, nil
}

// readSnapshot opens account a's archive for reading its messages: with
// the identities of its identity_file when it is encrypted.
func readSnapshot(ctx context.Context, root string, a *config.Account) (*archive.Snapshot, error) {
	keys, err := agent.ReadKeys(a)
	if err != nil {
		return nil, err
	}
	snap, err := archive.OpenSnapshot(ctx, root, a.Name)
	if err != nil {
		return nil, err
	}
	if keys != nil {
		snap.SetIdentities(keys.Identities)
	}
	return snap, nil
}

// copyHeader copies the header of a message, up to and including the
// empty line that ends it, byte for byte.
func copyHeader(w io.Writer, r io.Reader) error {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			err = nil // a long line: go on with its rest
		}
		if _, werr := w.Write(line); werr != nil {
			return werr
		}
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return err
		case string(line) == "\r\n" || string(line) == "\n":
			return nil
		}
	}
}

// printText prints a message decoded for a terminal.
func printText(g *globals, r io.Reader, m archive.Message, st archive.FolderState) error {
	doc, err := index.Extract(r)
	if err != nil {
		fmt.Fprintf(g.stderr, "mailkeep: not all of the message could be decoded: %v\n", err)
	}
	w := bufio.NewWriter(g.stdout)
	for _, f := range []struct{ name, value string }{{"From", doc.From}, {"To", doc.To}, {"Cc", doc.Cc},
		{"Subject", doc.Subject}, {"Date", m.InternalDate.Local().Format("Mon, 2 Jan 2006 15:04:05 -0700")},
		{"Folder", st.Name}, {"Attachments", strings.Join(doc.Attachments, ", ")}} {
		if f.value != "" {
			fmt.Fprintf(w, "%s: %s\n", f.name, terminalText(f.value, 1<<20))
		}
	}
	fmt.Fprintln(w)
	w.WriteString(strings.TrimRight(terminalBody(doc.Body), "\n") + "\n")
	return w.Flush()
}

// terminalBody drops the control characters of a text (escape sequences
// could drive the terminal), keeping line ends and tabs.
func terminalBody(s string) string {
	return strings.Map(func(r rune) rune {
		if r != '\n' && r != '\t' && unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}
