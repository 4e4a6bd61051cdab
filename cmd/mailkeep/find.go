package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/index"
)

type findFlags struct {
	limit int
	json  bool
	asOf  string
}

func findCommand(g *globals) *cobra.Command {
	var f findFlags
	cmd := &cobra.Command{
		Use:   "find [ACCOUNT] QUERY",
		Short: "Search the archived mail: one line per message, newest first",
		Long: `find searches the search index of every account, or of the named one, and prints one
line per message, newest first: date, account, folder, sender, subject, size and the id that
show, restore --id and export --id take. --json prints one JSON object per line instead.

The query is one argument (quote it). Words and "quoted phrases" search the decoded text:
subject, text and HTML parts, attachment names; case and accents do not matter. Fields:
from: to: cc: subject: message-id: folder: flag: attachment: after: before: larger:
smaller: gone:yes|no. Terms combine with AND (implicit), OR, -term or NOT, and parentheses.
Example: 'from:alice subject:invoice after:2019-01-01 before:2020-01-01'.

--as-of RUN|TIME keeps the messages the server had at that backup run (a run id, a date, an
RFC 3339 time or an age such as 3d). No match prints a note on stderr and exits 0; a query
that does not parse exits 2. find reads the archive without locking it; an account whose
index lags its archive (a backup is running, or one was interrupted) is searched as it is,
with a note saying how many messages are missing ("mailkeep index" adds them).`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFind(cmd.Context(), g, args, f)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.limit, "limit", index.DefaultLimit, "show at most this many messages (0: all)")
	fl.BoolVar(&f.json, "json", false, "print one JSON object per message")
	fl.StringVar(&f.asOf, "as-of", "", "search the state of this run: a run id, a date, an RFC 3339 time or an age (3d)")
	return cmd
}

// found is one match and its account.
type found struct {
	account string
	index.Hit
}

func runFind(ctx context.Context, g *globals, args []string, f findFlags) error {
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	accts, err := findAccounts(cfg, args)
	if err != nil {
		return err
	}
	q, err := index.Parse(args[len(args)-1], time.Local)
	if err != nil {
		return withCode(exitUsage, err)
	}
	asOf, err := archive.ParseAsOf(f.asOf, time.Now(), time.Local, config.ParseDuration)
	if err != nil {
		return withCode(exitUsage, err)
	}
	limit := f.limit
	if limit <= 0 {
		limit = -1
	}
	hits, err := searchAccounts(ctx, g, cfg.Archive, accts, q, asOf, limit, len(args) == 2)
	if len(hits) == 0 && err == nil {
		fmt.Fprintln(g.stderr, "mailkeep: no message matches")
	}
	if f.json {
		for _, h := range hits {
			printJSON(g.stdout, hitJSON(h))
		}
	} else {
		printHits(g.stdout, hits)
	}
	return err
}

// findAccounts returns the account named in args (when there are two),
// or every account.
func findAccounts(cfg *config.Config, args []string) ([]*config.Account, error) {
	if len(args) == 1 {
		return selectAccounts(cfg, nil)
	}
	a, err := cfg.Account(args[0])
	if err != nil {
		if strings.ContainsAny(args[0], ": \"") {
			err = fmt.Errorf("find takes one query: quote it, as in mailkeep find '%s %s'", args[0], args[1])
		}
		return nil, withCode(exitUsage, err)
	}
	return []*config.Account{a}, nil
}

// searchAccounts searches each account and returns the newest matches of
// all. An account that cannot be searched (no index, no archive, no run
// at --as-of) fails the command when it was named; otherwise it gets a
// note on stderr. An archive that cannot be read fails the command.
func searchAccounts(ctx context.Context, g *globals, root string, accts []*config.Account, q index.Query,
	asOf archive.AsOf, limit int, named bool) ([]found, error) {
	var all []found
	var worst error
	for _, a := range accts {
		hits, err := searchAccount(ctx, g, root, a, q, asOf, limit)
		var skip *skipped
		switch {
		case errors.As(err, &skip) && !named:
			fmt.Fprintf(g.stderr, "mailkeep: %v\n", err)
		case errors.As(err, &skip):
			worst = worse(worst, withCode(exitUsage, err))
		case err != nil:
			worst = worse(worst, withCode(exitFailure, err))
		}
		for _, h := range hits {
			all = append(all, found{a.Name, h})
		}
	}
	slices.SortStableFunc(all, func(x, y found) int {
		return cmp.Or(y.Date.Compare(x.Date), cmp.Compare(x.account, y.account), cmp.Compare(y.ID, x.ID))
	})
	if limit >= 0 && len(all) > limit {
		all = all[:limit]
	}
	return all, worst
}

// skipped says why an account was not searched.
type skipped struct{ account, why string }

func (s *skipped) Error() string { return s.account + ": not searched: " + s.why }

func searchAccount(ctx context.Context, g *globals, root string, a *config.Account, q index.Query,
	asOf archive.AsOf, limit int) ([]index.Hit, error) {
	switch {
	case a.Encrypted():
		return nil, &skipped{a.Name, "it is encrypted, and an encrypted account has no index"}
	case !a.IndexOn():
		return nil, &skipped{a.Name, "its index is off (index: false)"}
	}
	run, err := resolveAsOf(ctx, root, a.Name, asOf)
	if err != nil {
		return nil, err
	}
	ix, err := index.OpenReadOnly(ctx, filepath.Join(root, a.Name))
	if errors.Is(err, index.ErrNoIndex) {
		return nil, noIndex(ctx, root, a.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", a.Name, err)
	}
	defer ix.Close()
	if lag, err := ix.Lag(ctx); err == nil && lag > 0 {
		fmt.Fprintf(g.stderr, "mailkeep: %s: the search index lacks the %s archived last "+
			"(a running backup adds them; otherwise run mailkeep index %s)\n", a.Name, plural(lag, "message"), a.Name)
	}
	hits, err := ix.Search(ctx, q, index.SearchOptions{Limit: limit, Run: run})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", a.Name, err)
	}
	return hits, nil
}

// resolveAsOf returns the run that --as-of names in the account's
// archive; 0, without opening the archive, for the latest state.
func resolveAsOf(ctx context.Context, root, name string, asOf archive.AsOf) (int64, error) {
	if asOf.IsZero() {
		return 0, nil
	}
	snap, err := archive.OpenSnapshot(ctx, root, name)
	if errors.Is(err, archive.ErrNoArchive) {
		return 0, &skipped{name, "no archive yet"}
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	defer snap.Close()
	run, err := snap.Resolve(ctx, asOf)
	if errors.Is(err, archive.ErrNoRun) {
		return 0, &skipped{name, err.Error()}
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return run.ID, nil
}

// noIndex says why an account without an index file was not searched.
func noIndex(ctx context.Context, root, name string) error {
	snap, err := archive.OpenSnapshot(ctx, root, name)
	if errors.Is(err, archive.ErrNoArchive) {
		return &skipped{name, "no archive yet"}
	}
	if err == nil {
		snap.Close()
	}
	return &skipped{name, "no search index yet (mailkeep index " + name + " builds it)"}
}

func printHits(w io.Writer, hits []found) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, h := range hits {
		gone := ""
		if h.Gone {
			gone = "\tgone"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s%s\n", h.Date.Local().Format("2006-01-02 15:04"), h.account,
			terminalText(h.Folder, 30), terminalText(h.From, 30), terminalText(h.Subject, 60),
			humanBytes(h.Size), h.account+"/"+h.Handle, gone)
	}
	tw.Flush()
}

// terminalText makes header text safe for one line of a terminal (no
// control characters) and cuts it to at most n characters.
func terminalText(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	if s == "" {
		return "-"
	}
	return s
}

// hitReport is one match for --json.
type hitReport struct {
	ID          string    `json:"id"`
	Account     string    `json:"account"`
	Folder      string    `json:"folder"`
	Date        time.Time `json:"date"`
	From        string    `json:"from"`
	Subject     string    `json:"subject"`
	MessageID   string    `json:"message_id"`
	Size        int64     `json:"size"`
	Gone        bool      `json:"gone"`
	Flags       []string  `json:"flags"`
	Attachments []string  `json:"attachments"`
	Undecodable string    `json:"undecodable,omitempty"`
}

func hitJSON(h found) hitReport {
	return hitReport{ID: h.account + "/" + h.Handle, Account: h.account, Folder: h.Folder, Date: h.Date,
		From: h.From, Subject: h.Subject, MessageID: h.MessageID, Size: h.Size, Gone: h.Gone,
		Flags: orEmpty(h.Flags), Attachments: orEmpty(h.Attachments), Undecodable: h.Undecodable}
}

// orEmpty makes a nil list an empty one, so that JSON shows [] and not null.
func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
