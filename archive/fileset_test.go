package archive

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestEachListed: a listing passes each message file with the file name
// its key's row records ("" for none), over more than one chunk, and
// sends names that are not message files, and all of new/, to other.
func TestEachListed(t *testing.T) {
	ctx := context.Background()
	a := buildArchive(t, 3)
	f, err := a.Folder("INBOX", '/')
	if err != nil {
		t.Fatal(err)
	}
	st, _ := a.Catalog.EnsureFolder(ctx, f, 0)
	files := curFiles(t, a, "INBOX")
	renamed, _ := ParseMessageFile(filepath.Base(files[0]))
	renamed.Flags = "FS"
	if err := os.Rename(files[0], f.Path(renamed)); err != nil {
		t.Fatal(err)
	}
	extra := listChunk + 5 // files without rows, so that the listing takes two chunks
	for i := range extra {
		mf := MessageFile{Key: IMAPKey(8, uint32(i+1)), Size: 1, VSize: 1}
		if err := os.WriteFile(f.Path(mf), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"cur/junk", "new/" + filepath.Base(files[1])} {
		if err := os.WriteFile(filepath.Join(f.Dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]string{} // file name → its row's file name
	chunks := 0
	var others []string
	err = a.eachListed(ctx, f, st.ID, func(chunk []listedFile) error {
		chunks++
		for _, lf := range chunk {
			got[lf.Name()] = lf.rowFile
		}
		return nil
	}, func(o string) { others = append(others, o) })
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(others)
	if want := []string{"cur/junk", "new/" + filepath.Base(files[1])}; !slices.Equal(others, want) {
		t.Errorf("others = %q, want %q", others, want)
	}
	if chunks < 2 || len(got) != 3+extra {
		t.Fatalf("%d chunks, %d files, want 2 or more and %d", chunks, len(got), 3+extra)
	}
	for _, c := range []struct{ name, row string }{
		{renamed.Name(), filepath.Base(files[0])}, // the row still names the file before its rename
		{filepath.Base(files[1]), filepath.Base(files[1])},
		{MessageFile{Key: IMAPKey(8, 1), Size: 1, VSize: 1}.Name(), ""},
	} {
		if got[c.name] != c.row {
			t.Errorf("%s: row file %q, want %q", c.name, got[c.name], c.row)
		}
	}
}
