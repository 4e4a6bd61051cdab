package export_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/export"
	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
)

func run(t *testing.T, root string, opts export.Options) (export.Result, error) {
	t.Helper()
	if opts.To == "" && opts.Stdout == nil {
		opts.To = filepath.Join(t.TempDir(), "out")
	}
	return export.Run(t.Context(), root, "alice", opts)
}

func mustRun(t *testing.T, root string, opts export.Options, want []refFolder) export.Result {
	t.Helper()
	res, err := run(t, root, opts)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	if res.Messages != count(want) || res.Folders != len(want) || res.Damaged != 0 {
		t.Fatalf("export: %+v, want %d messages in %d folders", res, count(want), len(want))
	}
	return res
}

// TestExportDovecot backs up a corpus (with hostile folder names, "From "
// lines, a message without a final newline) from Dovecot, exports it in
// each format and reads every export back with an independent reader.
func TestExportDovecot(t *testing.T) {
	fx := newFixture(t)
	latest := reference(t, fx.root, archive.View{})
	t.Logf("the archive's latest state: %d messages in %d folders", count(latest), len(latest))

	t.Run("mbox", func(t *testing.T) {
		dir := t.TempDir()
		res := mustRun(t, fx.root, export.Options{Format: export.Mbox, To: dir}, latest)
		newlines := checkMbox(t, dir, latest, fx.senders)
		if newlines < 2 || res.Newlines != newlines {
			t.Errorf("%d messages given a newline, want %d (at least 2)", res.Newlines, newlines)
		}
		before := readTree(t, dir)
		res = mustRun(t, fx.root, export.Options{Format: export.Mbox, To: dir}, latest)
		if after := readTree(t, dir); !maps.Equal(before, after) {
			t.Error("a second export into the same directory changed it")
		}
	})
	t.Run("eml", func(t *testing.T) {
		dir := t.TempDir()
		res := mustRun(t, fx.root, export.Options{Format: export.EML, To: dir}, latest)
		if res.Present != 0 || res.Bytes == 0 {
			t.Errorf("first export: %+v", res)
		}
		checkEML(t, dir, latest)
		res = mustRun(t, fx.root, export.Options{Format: export.EML, To: dir}, latest)
		if res.Present != count(latest) {
			t.Errorf("second export: %d in place, want all %d", res.Present, count(latest))
		}
		checkEML(t, dir, latest)
	})
	t.Run("maildir", func(t *testing.T) {
		dir := t.TempDir()
		mustRun(t, fx.root, export.Options{Format: export.Maildir, To: dir}, latest)
		checkMaildir(t, dir, latest)
		checkServed(t, fx, dir)
		res := mustRun(t, fx.root, export.Options{Format: export.Maildir, To: dir}, latest)
		if res.Present != count(latest) {
			t.Errorf("second export: %d in place, want all %d", res.Present, count(latest))
		}
		checkMaildir(t, dir, latest)
	})
	t.Run("maildir-as-of-then-latest", func(t *testing.T) {
		// The flag change renames the file; the message deleted after
		// run 1 stays: an export never deletes.
		dir := t.TempDir()
		old := reference(t, fx.root, archive.View{Run: fx.run1})
		mustRun(t, fx.root, export.Options{Format: export.Maildir, To: dir, AsOf: archive.AsOf{Run: fx.run1}}, old)
		checkMaildir(t, dir, old)
		res := mustRun(t, fx.root, export.Options{Format: export.Maildir, To: dir}, latest)
		if res.Present != count(latest) {
			t.Errorf("%d in place, want %d (renamed, not written again)", res.Present, count(latest))
		}
		checkMaildir(t, dir, reference(t, fx.root, archive.View{Gone: archive.GoneToo}))
	})
	t.Run("stdout", func(t *testing.T) { testStdout(t, fx) })
	t.Run("filters", func(t *testing.T) { testFilters(t, fx, latest) })
	t.Run("interrupted", func(t *testing.T) { testInterrupted(t, fx, latest) })
	t.Run("damaged", func(t *testing.T) { testDamaged(t, fx) })
	t.Run("links", func(t *testing.T) { testLinks(t, fx) })
}

// checkServed serves an exported Maildir with Dovecot and compares the
// corpus folders with the source account, message by message (bytes,
// flags, keywords, dates).
func checkServed(t *testing.T, fx *fixture, dir string) {
	t.Helper()
	served := dovecottest.ServeArchive(t, dir)
	c := served.Dial(t, dovecottest.ArchiveUser)
	for _, name := range corpus.DefaultFolders {
		want, got := servedLines(t, fx.src, name), servedLines(t, c, name)
		if !slices.Equal(want, got) {
			t.Errorf("%q served from the export: %d messages, the source has %d;\n got %q\nwant %q",
				name, len(got), len(want), got, want)
		}
	}
}

func testStdout(t *testing.T, fx *fixture) {
	inbox := func(name string) bool { return name == "INBOX" }
	dir := t.TempDir()
	if _, err := run(t, fx.root, export.Options{Format: export.Mbox, To: dir, Match: inbox}); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(filepath.Join(dir, "INBOX.mbox"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := run(t, fx.root, export.Options{Format: export.Mbox, Stdout: &out, Match: inbox})
	if err != nil || res.Folders != 1 {
		t.Fatalf("%+v, %v", res, err)
	}
	if !bytes.Equal(out.Bytes(), file) {
		t.Errorf("standard output (%d bytes) differs from INBOX.mbox (%d bytes)", out.Len(), len(file))
	}
	for _, opts := range []export.Options{
		{Format: export.Mbox, Stdout: &out},
		{Format: export.Mbox, Stdout: &out, Match: func(n string) bool { return strings.HasPrefix(n, "Archive") }},
		{Format: export.EML, Stdout: &out, Match: inbox},
	} {
		out.Reset()
		if _, err := run(t, fx.root, opts); !errors.Is(err, export.ErrOneFolder) || out.Len() > 0 {
			t.Errorf("%+v: %v and %d bytes written, want ErrOneFolder and nothing", opts, err, out.Len())
		}
	}
}

func testFilters(t *testing.T, fx *fixture, latest []refFolder) {
	patterns := []string{"Archive*", "inbox"}
	match := func(n string) bool { return config.MatchFolderPatterns(patterns, n) }
	var want []refFolder
	for _, f := range latest {
		if match(f.Name) {
			want = append(want, f)
		}
	}
	if len(want) != 3 {
		t.Fatalf("%d folders match %q, want INBOX, Archive, Archive/2024", len(want), patterns)
	}
	dir := t.TempDir()
	mustRun(t, fx.root, export.Options{Format: export.EML, To: dir, Match: match}, want)
	checkEML(t, dir, want)
	if _, err := run(t, fx.root, export.Options{Format: export.EML, Match: func(string) bool { return false }}); !errors.Is(err, export.ErrNoFolder) {
		t.Errorf("no folder matching: %v, want ErrNoFolder", err)
	}

	var dates []time.Time
	for _, f := range latest {
		for _, m := range f.msgs {
			dates = append(dates, m.InternalDate)
		}
	}
	slices.SortFunc(dates, time.Time.Compare)
	mid := dates[len(dates)/2]
	since := without(latest, func(m refMsg) bool { return m.InternalDate.Before(mid) })
	before := without(latest, func(m refMsg) bool { return !m.InternalDate.Before(mid) })
	dir = t.TempDir()
	mustRun(t, fx.root, export.Options{Format: export.EML, To: dir, Since: mid}, since)
	checkEML(t, dir, since)
	dir = t.TempDir()
	mustRun(t, fx.root, export.Options{Format: export.EML, To: dir, Before: mid}, before)
	checkEML(t, dir, before)

	gone := reference(t, fx.root, archive.View{Gone: archive.GoneToo})
	if count(gone) != count(latest)+1 {
		t.Fatalf("%d messages with the gone one, %d without", count(gone), count(latest))
	}
	dir = t.TempDir()
	mustRun(t, fx.root, export.Options{Format: export.Mbox, To: dir, Gone: true}, gone)
	checkMbox(t, dir, gone, fx.senders)

	old := reference(t, fx.root, archive.View{Run: fx.run1})
	dir = t.TempDir()
	res := mustRun(t, fx.root, export.Options{Format: export.Mbox, To: dir, AsOf: archive.AsOf{Run: fx.run1}}, old)
	if res.Run.ID != fx.run1 {
		t.Errorf("state of run %d, want %d", res.Run.ID, fx.run1)
	}
	checkMbox(t, dir, old, fx.senders)
	if _, err := run(t, fx.root, export.Options{Format: export.Mbox, AsOf: archive.AsOf{Time: time.Unix(0, 0)}}); !errors.Is(err, archive.ErrNoRun) {
		t.Errorf("--as-of before the first run: %v, want ErrNoRun", err)
	}
}

// cancelAfter cancels an export after n messages.
type cancelAfter struct {
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Start(int, int64) {}
func (c *cancelAfter) Folder(string)    {}
func (c *cancelAfter) Message(int64) {
	if c.n--; c.n == 0 {
		c.cancel()
	}
}

// testInterrupted cancels an export in each format midway: nothing half
// written is left, and a second export completes it without duplicates.
func testInterrupted(t *testing.T, fx *fixture, latest []refFolder) {
	for _, f := range []export.Format{export.Mbox, export.EML, export.Maildir} {
		for _, at := range []int{1, count(latest) / 2, count(latest) - 1} {
			dir := t.TempDir()
			ctx, cancel := context.WithCancel(t.Context())
			res, err := export.Run(ctx, fx.root, "alice", export.Options{Format: f, To: dir,
				Progress: &cancelAfter{n: at, cancel: cancel}})
			cancel()
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("%s cancelled after %d: %v, want context.Canceled", f, at, err)
			}
			done := walkFiles(t, dir) // fails on temp files
			if f == export.EML && len(done) != res.Messages {
				t.Errorf("eml cancelled after %d: %d files, %d messages reported", at, len(done), res.Messages)
			}
			res = mustRun(t, fx.root, export.Options{Format: f, To: dir}, latest)
			switch f {
			case export.Mbox:
				checkMbox(t, dir, latest, fx.senders)
			case export.EML:
				checkEML(t, dir, latest)
			case export.Maildir:
				checkMaildir(t, dir, latest)
			}
			if f != export.Mbox && res.Present == 0 && at > batchLimit {
				t.Errorf("%s cancelled after %d: nothing kept from the first export", f, at)
			}
		}
	}
}

// batchLimit is the most messages an interrupted export can lose.
const batchLimit = 64

// testDamaged exports a copy of the archive with one message file flipped
// and one missing: both are named, the rest is exported whole.
func testDamaged(t *testing.T, fx *fixture) {
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(fx.root)); err != nil {
		t.Fatal(err)
	}
	latest := reference(t, root, archive.View{})
	var inbox refFolder
	for _, f := range latest {
		if f.Name == "INBOX" {
			inbox = f
		}
	}
	flipped, missing := inbox.msgs[3], inbox.msgs[5]
	cur := filepath.Join(root, "alice", "mail", "INBOX", archive.MaildirLevel, "cur")
	data, err := os.ReadFile(filepath.Join(cur, flipped.File))
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x40
	if err := os.WriteFile(filepath.Join(cur, flipped.File), data, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(cur, missing.File)); err != nil {
		t.Fatal(err)
	}
	want := without(latest, func(m refMsg) bool { return m.Key == flipped.Key || m.Key == missing.Key })
	for _, f := range []export.Format{export.Mbox, export.EML, export.Maildir} {
		dir := t.TempDir()
		res, err := run(t, root, export.Options{Format: f, To: dir})
		if !errors.Is(err, export.ErrProblems) || res.Damaged != 2 || res.Messages != count(want) {
			t.Fatalf("%s: %+v, %v; want ErrProblems, 2 damaged, %d exported", f, res, err, count(want))
		}
		for i, key := range []string{flipped.Key, missing.Key} {
			if !strings.Contains(res.Problems[i].Error(), "INBOX: "+key) {
				t.Errorf("%s: problem %q does not name INBOX and %s", f, res.Problems[i], key)
			}
		}
		if !errors.Is(res.Problems[0], archive.ErrDamaged) || !errors.Is(res.Problems[1], os.ErrNotExist) {
			t.Errorf("%s: problems %v", f, res.Problems)
		}
		switch f {
		case export.Mbox:
			checkMbox(t, dir, want, fx.senders)
		case export.EML:
			checkEML(t, dir, want)
		case export.Maildir:
			checkMaildir(t, dir, want)
		}
	}
}

// testLinks: a link in the target that points outside it is not followed.
func testLinks(t *testing.T, fx *fixture) {
	dir, outside := t.TempDir(), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "INBOX")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []export.Format{export.Mbox, export.EML, export.Maildir} {
		_, err := run(t, fx.root, export.Options{Format: f, To: dir, Match: func(n string) bool { return n == "INBOX" }})
		entries, _ := os.ReadDir(outside)
		if f != export.Mbox && err == nil || len(entries) > 0 {
			t.Errorf("%s: %v, and %d entries written outside the target", f, err, len(entries))
		}
	}
}

// readTree reads every file under dir.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range walkFiles(t, dir) {
		data, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		out[p] = string(data)
	}
	return out
}
