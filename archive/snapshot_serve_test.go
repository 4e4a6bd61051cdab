package archive

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestScanMatchesMessages: ScanFolder and Scan give, for every view, the
// rows Folders and Messages give, in arrival order.
func TestScanMatchesMessages(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	a, _ := OpenWriter(ctx, root, "acct", nil)
	defer a.Close()
	sp, _ := NewSpool("")
	run1, _ := a.Catalog.BeginRun(ctx, "imap", time.Now())
	in, _ := a.Folder("INBOX", '/')
	inSt, _ := a.Catalog.EnsureFolder(ctx, in, run1)
	storeRange(t, a, in, sp, inSt.ID, run1, 1, 4)
	old, _ := a.Folder("Old", '/')
	oldSt, _ := a.Catalog.EnsureFolder(ctx, old, run1)
	storeRange(t, a, old, sp, oldSt.ID, run1, 1, 2)
	a.Catalog.FinishRun(ctx, run1, OutcomeOK, RunStats{}, nil, time.Now())
	run2, _ := a.Catalog.BeginRun(ctx, "imap", time.Now())
	if err := a.Catalog.MarkGoneUIDs(ctx, inSt.ID, 7, []uint32{2, 3}, run2); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Catalog.MarkFolderGone(ctx, oldSt.ID, run2); err != nil {
		t.Fatal(err)
	}
	storeRange(t, a, in, sp, inSt.ID, run2, 5, 5)
	a.Catalog.FinishRun(ctx, run2, OutcomeOK, RunStats{}, nil, time.Now())

	snap, err := OpenSnapshot(ctx, root, "acct")
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	for _, v := range []View{{}, {Gone: GoneToo}, {Gone: GoneOnly}, {Run: run1}, {Run: run1, Gone: GoneOnly},
		{Run: run2}, {Run: run2, Gone: GoneOnly}} {
		folders, err := snap.Folders(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		var all []int64
		for _, f := range folders {
			want, err := snap.Messages(ctx, f.ID, v)
			if err != nil {
				t.Fatal(err)
			}
			var got []Message
			sf, ok, err := snap.ScanFolder(ctx, f.ID, v, func(m Message) error {
				got = append(got, m)
				return nil
			})
			if err != nil || !ok || sf != f {
				t.Fatalf("%+v: ScanFolder(%s) = %+v, %v, %v; want %+v", v, f.Name, sf, ok, err, f)
			}
			slices.SortFunc(want, func(a, b Message) int { return int(a.ID - b.ID) })
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%+v: ScanFolder(%s) rows\n%v\nwant\n%v", v, f.Name, got, want)
			}
			for _, m := range want {
				all = append(all, m.ID)
			}
		}
		slices.Sort(all)
		var scanned []int64
		if err := snap.Scan(ctx, v, func(m Message) error { scanned = append(scanned, m.ID); return nil }); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(scanned, all) {
			t.Errorf("%+v: Scan = %v, want %v", v, scanned, all)
		}
	}
	if _, ok, err := snap.ScanFolder(ctx, oldSt.ID, View{}, nil); ok || err != nil {
		t.Errorf("a gone folder in the latest view: ok %v, err %v", ok, err)
	}
	stop := errors.New("stop")
	if err := snap.Scan(ctx, View{}, func(Message) error { return stop }); err != stop {
		t.Errorf("Scan returned %v, want the callback's error", err)
	}
}

// TestScanFolderIsOneState: a message committed while a scan runs is not
// part of it, and the folder's count agrees with the rows it gives.
func TestScanFolderIsOneState(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	a, _ := OpenWriter(ctx, root, "acct", nil)
	defer a.Close()
	sp, _ := NewSpool("")
	run, _ := a.Catalog.BeginRun(ctx, "imap", time.Now())
	in, _ := a.Folder("INBOX", '/')
	st, _ := a.Catalog.EnsureFolder(ctx, in, run)
	storeRange(t, a, in, sp, st.ID, run, 1, 3)

	snap, err := OpenSnapshot(ctx, root, "acct")
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	n := 0
	f, ok, err := snap.ScanFolder(ctx, st.ID, View{}, func(Message) error {
		if n++; n == 1 {
			storeRange(t, a, in, sp, st.ID, run, 4, 6)
		}
		return nil
	})
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if n != 3 || f.Count != 3 {
		t.Errorf("the scan gave %d messages of a folder counted %d; want 3 and 3", n, f.Count)
	}
	f, _, _ = snap.ScanFolder(ctx, st.ID, View{}, func(Message) error { return nil })
	if f.Count != 6 {
		t.Errorf("the next scan counts %d, want 6", f.Count)
	}
}
