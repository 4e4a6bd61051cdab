package backup_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/internal/pop3fake"
)

// rowsRead is a slog handler that keeps what each POP3 session says it
// read of the catalog: how many listed messages the last listing vouched
// for, and how many rows it read.
type rowsRead struct {
	mu    sync.Mutex
	known []int64
	rows  []int64
}

func (h *rowsRead) Enabled(context.Context, slog.Level) bool { return true }
func (h *rowsRead) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *rowsRead) WithGroup(string) slog.Handler            { return h }
func (h *rowsRead) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "catalog rows read" {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "known from the last listing":
			h.known = append(h.known, a.Value.Int64())
		case "rows":
			h.rows = append(h.rows, a.Value.Int64())
		}
		return true
	})
	return nil
}

// last returns what the last session read.
func (h *rowsRead) last() (known, rows int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.known[len(h.known)-1], h.rows[len(h.rows)-1]
}

// TestPOP3TrustsLastListing: a run whose listing begins with what the last
// run left reads no row of those messages; anything that may have changed
// them (a message deleted by another client, a crashed run, a repair,
// delete_after_days) makes the run read every row, and the outcome is the
// same either way.
func TestPOP3TrustsLastListing(t *testing.T) {
	t.Parallel()
	srv := pop3fake.Start(t, pop3fake.Options{}, fakeMessages(1, 20)...)
	root := t.TempDir()
	h := &rowsRead{}
	opts := fakeOptions(srv)
	opts.Log = slog.New(h)
	step := func(name string, wantKnown, wantRows int64, want archive.RunStats) {
		t.Helper()
		res := mustPOP3(t, root, opts)
		if known, rows := h.last(); known != wantKnown || rows != wantRows {
			t.Errorf("%s: the last listing vouched for %d messages and %d rows were read; want %d and %d",
				name, known, rows, wantKnown, wantRows)
		}
		if got := res.Stats; got.NewMessages != want.NewMessages || got.Gone != want.Gone {
			t.Errorf("%s: %d new, %d gone; want %d and %d", name, got.NewMessages, got.Gone, want.NewMessages, want.Gone)
		}
	}
	step("first run", 0, 0, archive.RunStats{NewMessages: 20})
	step("no change", 20, 0, archive.RunStats{})
	srv.Add(fakeMessages(21, 3)...)
	step("3 new", 20, 0, archive.RunStats{NewMessages: 3})
	step("no change after them", 23, 0, archive.RunStats{})

	srv.Remove("uid-5")
	step("one deleted by another client", 0, 23, archive.RunStats{Gone: 1})
	step("no change after the deletion", 22, 0, archive.RunStats{})

	// A run that crashed may have archived messages without recording a
	// listing: the next one reads every row.
	srv.Add(fakeMessages(24, 1)...)
	crashed(t, root)
	step("after a crashed run", 0, 23, archive.RunStats{NewMessages: 1})

	// A repair sets a listed message aside: it is fetched again.
	damage(t, root, "uid-7")
	step("after a repair", 0, 23, archive.RunStats{NewMessages: 1})
	step("no change after the repair", 23, 0, archive.RunStats{})

	opts.DeleteAfterDays = 365
	step("delete_after_days", 0, 24, archive.RunStats{})
	step("delete_after_days again", 0, 24, archive.RunStats{})

	// Delete mode: the run after a QUIT that deleted everything trusts an
	// empty listing and marks what it deleted gone.
	opts.DeleteAfterDays, opts.Delete = 0, true
	step("delete mode", 0, 24, archive.RunStats{})
	srv.Add(fakeMessages(30, 2)...)
	step("delete mode, 2 new", 0, 0, archive.RunStats{NewMessages: 2, Gone: 23})
	step("delete mode, nothing new", 0, 0, archive.RunStats{Gone: 2})
	if n := count(srv.Commands(), "RETR"); n != 20+3+1+1+2 {
		t.Errorf("%d RETR; want 27: each message once, the repaired one twice", n)
	}
	if left := srv.Messages(); len(left) != 0 {
		t.Errorf("%d messages left on the server", len(left))
	}
	if n := len(archived(t, root)); n != 26 {
		t.Errorf("%d archived, want 26", n)
	}
}

// crashed records a run that a crash left running: the next run marks it
// interrupted.
func crashed(t *testing.T, root string) {
	t.Helper()
	a, err := archive.OpenWriter(t.Context(), root, pop3Account, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Catalog.BeginRun(t.Context(), "pop3", time.Now()); err != nil {
		t.Fatal(err)
	}
}

// damage flips a byte of the archived copy of the message with this UIDL
// and lets verify --repair set it aside.
func damage(t *testing.T, root, uidl string) {
	t.Helper()
	for _, m := range archived(t, root) {
		if m.row.UIDL != uidl {
			continue
		}
		p := filepath.Join(root, pop3Account, "mail/INBOX/.mk/cur", m.row.File)
		data, _ := os.ReadFile(p)
		data[len(data)/2] ^= 0xff
		os.WriteFile(p, data, 0o600)
	}
	a, err := archive.OpenWriter(t.Context(), root, pop3Account, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	rep, err := a.Verify(t.Context(), archive.VerifyOptions{Repair: true})
	if err != nil || len(rep.Problems) != 1 || !rep.Problems[0].Repaired {
		t.Fatalf("repair: %+v, %v", rep.Problems, err)
	}
}
