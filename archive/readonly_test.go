package archive

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestOpenReadOnly(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	if _, err := OpenReadOnly(ctx, root, "new"); !errors.Is(err, ErrNoArchive) {
		t.Fatalf("an account without an archive: %v", err)
	}
	a, err := Open(ctx, root, "acct", nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for i, outcome := range []string{OutcomeFailed, OutcomeOK, OutcomePartial, OutcomeFailed} {
		id, err := a.Catalog.BeginRun(ctx, "imap", t0.Add(time.Duration(i)*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Catalog.FinishRun(ctx, id, outcome, RunStats{NewMessages: i}, nil, t0.Add(time.Duration(i)*time.Hour+time.Minute)); err != nil {
			t.Fatal(err)
		}
	}

	// While the writer holds the lock and its WAL, and after it closed.
	checkRuns := func(when string) {
		c, err := OpenReadOnly(ctx, root, "acct")
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		defer c.Close()
		ok, found, err := c.LastRun(ctx, OutcomeOK)
		if err != nil || !found || ok.NewMessages != 1 {
			t.Fatalf("%s: last ok run %+v %v %v", when, ok, found, err)
		}
		last, _, _ := c.LastRun(ctx, OutcomeOK, OutcomePartial)
		first, _, _ := c.FirstRun(ctx)
		if last.NewMessages != 2 || first.NewMessages != 0 || !first.Started.Equal(t0) {
			t.Fatalf("%s: last success %+v, first run %+v", when, last, first)
		}
		if _, found, _ := c.LastRun(ctx, OutcomeInterrupted); found {
			t.Fatalf("%s: found an interrupted run", when)
		}
		if _, err := c.db.ExecContext(ctx, `DELETE FROM runs`); err == nil {
			t.Fatalf("%s: a read-only catalog accepted a write", when)
		}
	}
	checkRuns("beside the writer")
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	before := listDir(t, filepath.Join(root, "acct"))
	checkRuns("after the writer")
	if after := listDir(t, filepath.Join(root, "acct")); !slices.Equal(before, after) {
		t.Fatalf("reading created files: %v, then %v", before, after)
	}
	// The reader took no lock: a writer can open the account meanwhile.
	c, err := OpenReadOnly(ctx, root, "acct")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w, err := Open(ctx, root, "acct", nil)
	if err != nil {
		t.Fatalf("a writer beside a reader: %v", err)
	}
	w.Close()
}

func TestOpenReadOnlyRefusesOtherFormats(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "acct")
	os.MkdirAll(dir, 0o750)
	os.WriteFile(filepath.Join(dir, formatFile), []byte("mailkeep-archive 99\n"), 0o640)
	if _, err := OpenReadOnly(context.Background(), root, "acct"); !errors.Is(err, ErrFormat) {
		t.Fatalf("format 99: %v", err)
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}
