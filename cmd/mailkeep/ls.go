package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/index"
)

func lsCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ls [ACCOUNT [FOLDER]]",
		Short: "List the archive: accounts and folders, or the messages of one folder",
		Long: `ls lists, for every account or the named one, each archived folder: its messages
(those the server still had at the last look), the messages deleted on the server since
(gone, kept in the archive), their size as the server served them and the bytes their
compressed files take on disk, and the run that last synced the folder. Under each account,
the size of its search index beside the archive's.

ls ACCOUNT FOLDER lists the messages of one folder, in the server's order: date, sender,
subject, size and the id that show, restore --id and export --id take; "gone" marks the
messages deleted on the server. ls reads the archive without locking it.`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			if len(args) == 2 {
				a, err := cfg.Account(args[0])
				if err != nil {
					return withCode(exitUsage, err)
				}
				return lsFolder(cmd.Context(), g, cfg.Archive, a, args[1])
			}
			accts, err := selectAccounts(cfg, args)
			if err != nil {
				return err
			}
			return lsAccounts(cmd.Context(), g, cfg.Archive, accts)
		},
	}
	return cmd
}

// folderLine is one folder of ls.
type folderLine struct {
	archive.FolderState
	present, gone int
	served, disk  int64
	diskErr       error
}

func lsAccounts(ctx context.Context, g *globals, root string, accts []*config.Account) error {
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tFOLDER\tMESSAGES\tGONE\tSIZE\tON DISK\tLAST RUN")
	var notes []string
	var worst error
	for _, a := range accts {
		note, err := lsAccount(ctx, tw, root, a)
		switch {
		case errors.Is(err, archive.ErrNoArchive):
			note = a.Name + ": no archive yet"
		case err != nil:
			note = fmt.Sprintf("%s: %v", a.Name, err)
			worst = worse(worst, withCode(exitFailure, err))
		}
		notes = append(notes, note)
	}
	tw.Flush()
	for _, n := range notes {
		fmt.Fprintln(g.stdout, n)
	}
	return worst
}

// lsAccount writes an account's folders to the table and returns its
// summary line.
func lsAccount(ctx context.Context, tw io.Writer, root string, a *config.Account) (string, error) {
	snap, err := archive.OpenSnapshot(ctx, root, a.Name)
	if err != nil {
		return "", err
	}
	defer snap.Close()
	lines, err := folderLines(ctx, snap)
	if err != nil {
		return "", err
	}
	runs, err := snap.Runs(ctx)
	if err != nil {
		return "", err
	}
	started := map[int64]time.Time{}
	for _, r := range runs {
		started[r.ID] = r.Started
	}
	var total folderLine
	for _, l := range lines {
		name := terminalText(l.Name, 60)
		if l.Gone {
			name += " (deleted on the server)"
		}
		disk := humanBytes(l.disk)
		if l.diskErr != nil {
			disk = "?"
		}
		last := "-"
		if t, ok := started[l.LastRun]; ok {
			last = fmt.Sprintf("%s (run %d)", t.Local().Format("2006-01-02 15:04"), l.LastRun)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\n", a.Name, name, l.present, l.gone, humanBytes(l.served), disk, last)
		total.present, total.gone = total.present+l.present, total.gone+l.gone
		total.served, total.disk = total.served+l.served, total.disk+l.disk
	}
	return accountSummary(ctx, snap, a, len(lines), total, runs), nil
}

// folderLines counts every folder's messages, gone ones and bytes.
func folderLines(ctx context.Context, snap *archive.Snapshot) ([]folderLine, error) {
	all, err := snap.Folders(ctx, archive.View{Gone: archive.GoneToo})
	if err != nil {
		return nil, err
	}
	gone, err := snap.Folders(ctx, archive.View{Gone: archive.GoneOnly})
	if err != nil {
		return nil, err
	}
	goneBy := map[int64]int{}
	for _, f := range gone {
		goneBy[f.ID] = f.Count
	}
	lines := make([]folderLine, len(all))
	for i, f := range all {
		l := folderLine{FolderState: f.FolderState, present: f.Count - goneBy[f.ID], gone: goneBy[f.ID], served: f.Bytes}
		if mf, err := snap.Folder(f.FolderState); err == nil {
			l.disk, _, l.diskErr = mf.DiskBytes()
		} else {
			l.diskErr = err
		}
		lines[i] = l
	}
	return lines, nil
}

// accountSummary is the line under an account's folders: totals, the
// search index beside the archive, and the last run.
func accountSummary(ctx context.Context, snap *archive.Snapshot, a *config.Account, folders int, t folderLine, runs []archive.Run) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s, %s (%d gone), %s as served, %s on disk", a.Name, plural(folders, "folder"),
		plural(t.present+t.gone, "message"), t.gone, humanBytes(t.served), humanBytes(t.disk))
	b.WriteString("; search index " + indexSize(ctx, snap, a, t.disk))
	if len(runs) > 0 {
		r := runs[0]
		fmt.Fprintf(&b, "; last run %d %s, %s", r.ID, r.Outcome, r.Started.Local().Format("2006-01-02 15:04"))
	}
	return b.String()
}

func indexSize(ctx context.Context, snap *archive.Snapshot, a *config.Account, disk int64) string {
	switch {
	case a.Encrypted():
		return "none (encrypted)"
	case !a.IndexOn():
		return "off"
	}
	ix, err := index.OpenReadOnly(ctx, snap.Dir())
	if errors.Is(err, index.ErrNoIndex) {
		return "not built yet"
	}
	if err != nil {
		return fmt.Sprintf("unreadable (%v)", err)
	}
	defer ix.Close()
	n, err := ix.Size()
	if err != nil {
		return fmt.Sprintf("unreadable (%v)", err)
	}
	if disk == 0 {
		return humanBytes(n)
	}
	return fmt.Sprintf("%s (%.2f × the messages on disk)", humanBytes(n), float64(n)/float64(disk))
}

// lsFolder lists the messages of one folder, lsBatch at a time: memory
// holds one batch whatever the folder's size, and the first lines come
// out before the folder is read to its end.
func lsFolder(ctx context.Context, g *globals, root string, a *config.Account, name string) error {
	snap, err := readSnapshot(ctx, root, a)
	if err != nil {
		return withCode(exitFailure, err)
	}
	defer snap.Close()
	st, err := findFolder(ctx, snap, a.Name, name)
	if err != nil {
		return err
	}
	t := newFolderTable(ctx, snap, a, st, g.stdout)
	defer t.close()
	batch := make([]archive.Message, 0, lsBatch)
	err = snap.EachMessage(ctx, st.ID, archive.View{Gone: archive.GoneToo}, func(m archive.Message) error {
		if batch = append(batch, m); len(batch) < lsBatch {
			return nil
		}
		err := t.print(ctx, batch)
		batch = batch[:0]
		return err
	})
	if err == nil {
		err = t.print(ctx, batch)
	}
	if err != nil {
		return withCode(exitFailure, err)
	}
	return t.flush()
}

// lsBatch is how many messages ls FOLDER reads the senders and subjects
// of at a time; tests make it small.
var lsBatch = 256

// folderTable prints the messages of a folder. Its columns have fixed
// widths, the longest a cell can be (sender and subject are cut to
// fromWidth and subjectWidth characters), so that every batch lines up
// with the header without the table being held whole.
type folderTable struct {
	snap *archive.Snapshot
	a    *config.Account
	st   archive.FolderState
	ix   *index.Index    // nil without an index
	f    *archive.Folder // opened for the first message the index lacks
	w    *bufio.Writer
}

const (
	lsDate       = "2006-01-02 15:04"
	dateWidth    = len(lsDate)
	fromWidth    = 30
	subjectWidth = 60
	sizeWidth    = len("1023.9 KiB")
)

func newFolderTable(ctx context.Context, snap *archive.Snapshot, a *config.Account, st archive.FolderState, w io.Writer) *folderTable {
	t := &folderTable{snap: snap, a: a, st: st, w: bufio.NewWriter(w)}
	if a.IndexOn() {
		if ix, err := index.OpenReadOnly(ctx, snap.Dir()); err == nil {
			t.ix = ix
		}
	}
	fmt.Fprintf(t.w, "%s  %s  %s  %s  ID\n", padRunes("DATE", dateWidth), padRunes("FROM", fromWidth),
		padRunes("SUBJECT", subjectWidth), padRunes("SIZE", sizeWidth))
	return t
}

// print writes a batch of messages, in order.
func (t *folderTable) print(ctx context.Context, batch []archive.Message) error {
	sums := t.summaries(ctx, batch)
	for _, m := range batch {
		gone := ""
		if m.GoneRun != 0 {
			gone = "  gone"
		}
		s := sums[m.ID]
		fmt.Fprintf(t.w, "%s  %s  %s  %s  %s%s\n", m.InternalDate.Local().Format(lsDate),
			padRunes(terminalText(s.From, fromWidth), fromWidth), padRunes(terminalText(s.Subject, subjectWidth), subjectWidth),
			padRunes(humanBytes(m.Size), sizeWidth), t.a.Name+"/"+archive.Handle(t.st.Name, m.Key), gone)
	}
	return ctx.Err()
}

// summaries returns the sender and subject of each message of the batch:
// from the search index where it holds the message, else from the
// message's header.
func (t *folderTable) summaries(ctx context.Context, batch []archive.Message) map[int64]index.Summary {
	out := map[int64]index.Summary{}
	if t.ix != nil {
		ids := make([]int64, len(batch))
		for i, m := range batch {
			ids[i] = m.ID
		}
		if docs, err := t.ix.Docs(ctx, ids); err == nil {
			out = docs
		}
	}
	for _, m := range batch {
		if d, ok := out[m.ID]; ok && d.Key == m.Key {
			continue
		}
		if t.f == nil {
			f, err := t.snap.Folder(t.st)
			if err != nil {
				break
			}
			t.f = f
		}
		out[m.ID] = headerSummary(t.f, m)
	}
	return out
}

func (t *folderTable) flush() error { return t.w.Flush() }

func (t *folderTable) close() {
	if t.ix != nil {
		t.ix.Close()
	}
}

// padRunes pads s with spaces to n characters.
func padRunes(s string, n int) string {
	if k := utf8.RuneCountInString(s); k < n {
		return s + strings.Repeat(" ", n-k)
	}
	return s
}

// findFolder returns the catalog folder called name (INBOX in any case).
func findFolder(ctx context.Context, snap *archive.Snapshot, account, name string) (archive.FolderState, error) {
	all, err := snap.AllFolders(ctx)
	if err != nil {
		return archive.FolderState{}, withCode(exitFailure, err)
	}
	i := slices.IndexFunc(all, func(f archive.FolderState) bool {
		return f.Name == name || strings.EqualFold(name, "INBOX") && strings.EqualFold(f.Name, "INBOX")
	})
	if i < 0 {
		return archive.FolderState{}, withCode(exitUsage,
			fmt.Errorf("no folder %q in the archive of %s (mailkeep ls %s lists them)", name, account, account))
	}
	return all[i], nil
}

func headerSummary(f *archive.Folder, m archive.Message) index.Summary {
	rc, err := f.OpenMessage(m)
	if err != nil {
		return index.Summary{ID: m.ID, Key: m.Key, Subject: "(unreadable: " + err.Error() + ")"}
	}
	defer rc.Close()
	d, _ := index.ExtractHeader(rc)
	return index.Summary{ID: m.ID, Key: m.Key, From: d.From, Subject: d.Subject}
}
