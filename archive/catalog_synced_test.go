package archive

import (
	"context"
	"database/sql"
	"testing"
	"time"
)

// TestSynced: a folder's certificate is read back while the folder's
// state is the one it was written with, and every writer that can take a
// certified message away from the catalog forgets it.
func TestSynced(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		change func(t *testing.T, a *Writer, st FolderState) FolderState
		want   bool
	}{
		{"unchanged", func(*testing.T, *Writer, FolderState) FolderState { return FolderState{} }, true},
		{"other UIDNEXT", func(_ *testing.T, _ *Writer, st FolderState) FolderState {
			st.UIDNext++
			return st
		}, false},
		{"other UIDVALIDITY", func(_ *testing.T, _ *Writer, st FolderState) FolderState {
			st.UIDValidity++
			return st
		}, false},
		{"state saved without one", func(t *testing.T, a *Writer, st FolderState) FolderState {
			if err := a.Catalog.SetSyncedState(ctx, st, nil, 1); err != nil {
				t.Fatal(err)
			}
			return FolderState{}
		}, false},
		{"folder gone", func(t *testing.T, a *Writer, st FolderState) FolderState {
			if _, err := a.Catalog.MarkFolderGone(ctx, st.ID, 1); err != nil {
				t.Fatal(err)
			}
			return FolderState{}
		}, false},
		{"UIDs marked gone", func(t *testing.T, a *Writer, st FolderState) FolderState {
			if err := a.Catalog.MarkGoneUIDs(ctx, st.ID, 7, []uint32{2}, 1); err != nil {
				t.Fatal(err)
			}
			return st
		}, false},
		{"UIDVALIDITY retired", func(t *testing.T, a *Writer, st FolderState) FolderState {
			if n, _, err := a.Catalog.RetireValidity(ctx, st.ID, 8, 1); err != nil || n != 3 {
				t.Fatalf("RetireValidity: %d, %v", n, err)
			}
			return st
		}, false},
		{"nothing left to retire", func(t *testing.T, a *Writer, st FolderState) FolderState {
			// UIDVALIDITY 7's rows were retired by an earlier sync of 8,
			// which certified the folder.
			a.Catalog.RetireValidity(ctx, st.ID, 8, 1)
			st.UIDValidity = 8
			if err := a.Catalog.SetSyncedState(ctx, st, &IMAPSynced{UIDValidity: 8, UIDNext: 4, Count: 3}, 1); err != nil {
				t.Fatal(err)
			}
			if n, other, err := a.Catalog.RetireValidity(ctx, st.ID, 8, 2); err != nil || n != 0 || !other {
				t.Fatalf("RetireValidity: %d, %v, %v", n, other, err)
			}
			return st
		}, true},
		{"POP3 run", func(t *testing.T, a *Writer, st FolderState) FolderState {
			if err := a.Catalog.ForgetSynced(ctx, st.ID); err != nil {
				t.Fatal(err)
			}
			return st
		}, false},
		{"message set aside", func(t *testing.T, a *Writer, st FolderState) FolderState {
			m := folderMessages(t, a, st.ID)[0]
			if err := a.Catalog.setAside(ctx, m, "lost", time.Now()); err != nil {
				t.Fatal(err)
			}
			return FolderState{}
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := buildArchive(t, 3)
			st := folderState(t, a, "INBOX")
			st.UIDValidity, st.UIDNext, st.HighestModSeq = 7, 4, 9
			s := &IMAPSynced{UIDValidity: 7, UIDNext: 4, Count: 3}
			if err := a.Catalog.SetSyncedState(ctx, st, s, 1); err != nil {
				t.Fatal(err)
			}
			other := folderState(t, a, "Archive/2024")
			other.UIDValidity, other.UIDNext = 1, 2
			if err := a.Catalog.SetSyncedState(ctx, other, &IMAPSynced{UIDValidity: 1, UIDNext: 2, Count: 1}, 1); err != nil {
				t.Fatal(err)
			}
			if as := tc.change(t, a, st); as.ID != 0 {
				st = as // the state the next sync would compare with
			} else {
				st = folderState(t, a, "INBOX")
			}
			got, ok, err := a.Catalog.Synced(ctx, st)
			if err != nil || ok != tc.want || ok && got.UIDNext != s.UIDNext {
				t.Errorf("Synced = %+v, %v, %v; want %v", got, ok, err, tc.want)
			}
			if _, ok, _ := a.Catalog.Synced(ctx, other); !ok {
				t.Error("another folder's certificate was forgotten")
			}
		})
	}
}

// TestSyncedForgottenByPrune: a prune takes rows away, so it forgets
// every folder's certificate.
func TestSyncedForgottenByPrune(t *testing.T) {
	ctx := context.Background()
	a := buildArchive(t, 3)
	st := folderState(t, a, "INBOX")
	st.UIDNext = 4
	if err := a.Catalog.SetSyncedState(ctx, st, &IMAPSynced{UIDValidity: st.UIDValidity, UIDNext: 4, Count: 3}, 1); err != nil {
		t.Fatal(err)
	}
	st = folderState(t, a, "INBOX")
	if _, ok, _ := a.Catalog.Synced(ctx, st); !ok {
		t.Fatal("no certificate")
	}
	m := folderMessages(t, a, st.ID)[0]
	err := a.Catalog.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO prunes (started, outcome, messages, bytes, folders, runs_merged,
			oldest_run) VALUES (?, ?, 1, 0, 0, 0, 0)`, time.Now().UTC().Format(timeLayout), OutcomeRunning)
		if err != nil {
			return err
		}
		id, _ := res.LastInsertId()
		return dropMessages(ctx, tx, id, []pruneVictim{{id: m.ID, folderID: st.ID, key: m.Key}})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := a.Catalog.Synced(ctx, st); ok {
		t.Error("the certificate outlived a prune")
	}
}

// TestUIDsFrom reads the UIDs from one on.
func TestUIDsFrom(t *testing.T) {
	ctx := context.Background()
	a := buildArchive(t, 5)
	st := folderState(t, a, "INBOX")
	m := folderMessages(t, a, st.ID)[0]
	got, err := a.Catalog.UIDsFrom(ctx, st.ID, m.UIDValidity, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].UID != 3 || got[2].UID != 5 {
		t.Errorf("UIDsFrom(3) = %+v", got)
	}
}

func folderState(t *testing.T, a *Writer, name string) FolderState {
	t.Helper()
	f, err := a.Folder(name, '/')
	if err != nil {
		t.Fatal(err)
	}
	st, err := a.Catalog.EnsureFolder(context.Background(), f, 1)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func folderMessages(t *testing.T, a *Writer, folderID int64) []Message {
	t.Helper()
	ms, err := a.Catalog.FolderMessages(context.Background(), folderID)
	if err != nil || len(ms) == 0 {
		t.Fatalf("FolderMessages: %d, %v", len(ms), err)
	}
	return ms
}
