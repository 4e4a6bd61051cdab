package archive

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCopyCatalog: a copy made while the writer commits is one committed
// state; opened as a Snapshot whose files come from elsewhere, it reads
// the same messages through the verified stream; the catalog's WAL files
// stay; CheckStored tells a good stored file from a damaged one.
func TestCopyCatalog(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	a, err := OpenWriter(ctx, root, "acct", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	sp, _ := NewSpool("")
	run, _ := a.Catalog.BeginRun(ctx, "imap", time.Now())
	f, _ := a.Folder("INBOX", '/')
	st, _ := a.Catalog.EnsureFolder(ctx, f, run)
	storeRange(t, a, f, sp, st.ID, run, 1, 5)
	snap, err := OpenSnapshot(ctx, root, "acct")
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := snap.CopyCatalog(ctx, path); err != nil {
		t.Fatal(err)
	}
	if err := snap.CopyCatalog(ctx, path); err == nil {
		t.Fatal("CopyCatalog over an existing file")
	}
	storeRange(t, a, f, sp, st.ID, run, 6, 8) // after the copy: not in it
	for _, w := range []string{"catalog.db-wal", "catalog.db-shm"} {
		if _, err := os.Stat(filepath.Join(root, "acct", w)); err != nil {
			t.Errorf("%s after the copy: %v", w, err)
		}
	}

	opened := 0
	marker, err := snap.FormatMarker()
	if err != nil {
		t.Fatal(err)
	}
	cp, err := OpenCatalogCopy(ctx, path, marker, func(fs FolderState, m Message) (io.ReadCloser, error) {
		opened++
		return os.Open(filepath.Join(root, "acct", "mail", fs.Dir, MaildirLevel, "cur", m.File))
	}, func() error { return os.Remove(path) })
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	folders, _ := cp.Folders(ctx, View{})
	msgs, _ := cp.Messages(ctx, folders[0].ID, View{})
	if len(folders) != 1 || len(msgs) != 5 {
		t.Fatalf("copy: %d folders, %d messages; want 1 and 5", len(folders), len(msgs))
	}
	remote, _ := cp.Folder(folders[0].FolderState)
	local, _ := snap.Folder(folders[0].FolderState)
	for _, m := range msgs {
		if !bytes.Equal(readAll(t, remote, m), readAll(t, local, m)) {
			t.Fatalf("%s reads differently from the copy", m.Key)
		}
		file, err := local.OpenFile(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := local.CheckStored(file, m); err != nil {
			t.Errorf("CheckStored %s: %v", m.Key, err)
		}
		file.Close()
		m.SHA256[0] ^= 1
		file, _ = local.OpenFile(m)
		if err := local.CheckStored(file, m); !errors.Is(err, ErrDamaged) {
			t.Errorf("CheckStored with a wrong hash: %v", err)
		}
		file.Close()
	}
	if opened != 5 {
		t.Errorf("the opener was asked %d times, want 5", opened)
	}
	if res, err := cp.IntegrityCheck(ctx); err != nil || res != "" {
		t.Errorf("integrity: %q %v", res, err)
	}
	if _, err := remote.OpenFile(msgs[0]); err == nil {
		t.Error("OpenFile of a folder whose files are elsewhere")
	}
	cp.Close()
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the copy after Close: %v", err)
	}
}

// TestCatalogCopyEncrypted: a copy of an encrypted archive reads with the
// identity only, and its stored files check against their hashes as
// stored without it.
func TestCatalogCopyEncrypted(t *testing.T) {
	ctx := context.Background()
	keys := newKeys(t)
	root := t.TempDir()
	buildArchiveKeys(t, root, 3, backupKeys(keys)).Close()
	snap, err := OpenSnapshot(ctx, root, "acct")
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := snap.CopyCatalog(ctx, path); err != nil {
		t.Fatal(err)
	}
	marker, _ := snap.FormatMarker()
	if err := CheckFormatMarker(marker); err != nil || marker != "mailkeep-archive 2 age" {
		t.Fatalf("marker %q: %v", marker, err)
	}
	cp, err := OpenCatalogCopy(ctx, path, marker, func(fs FolderState, m Message) (io.ReadCloser, error) {
		return os.Open(filepath.Join(root, "acct", "mail", fs.Dir, MaildirLevel, "cur", m.File))
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if !cp.Encrypted() {
		t.Fatal("the copy of an encrypted archive is not encrypted")
	}
	folders, _ := cp.Folders(ctx, View{})
	msgs, _ := cp.Messages(ctx, folders[0].ID, View{})
	remote, _ := cp.Folder(folders[0].FolderState)
	local, _ := snap.Folder(folders[0].FolderState)
	if _, err := remote.OpenMessage(msgs[0]); !errors.Is(err, ErrNoIdentity) {
		t.Errorf("reading the copy without the identity: %v", err)
	}
	cp.SetIdentities(keys.Identities)
	for _, m := range msgs {
		readAll(t, remote, m)
		file, _ := local.OpenFile(m)
		if err := local.CheckStored(file, m); err != nil {
			t.Errorf("CheckStored %s: %v", m.Key, err)
		}
		file.Close()
		m.FileSHA256[0] ^= 1
		file, _ = local.OpenFile(m)
		if err := local.CheckStored(file, m); !errors.Is(err, ErrDamaged) {
			t.Errorf("CheckStored with a wrong hash: %v", err)
		}
		file.Close()
	}
	if _, err := OpenCatalogCopy(ctx, path, "mailkeep-archive 3", nil, nil); !errors.Is(err, ErrFormat) {
		t.Errorf("an unknown marker: %v", err)
	}
}
