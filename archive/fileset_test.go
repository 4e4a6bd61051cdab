package archive

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestFileSet: files are found by key, once each, whatever their flags;
// a key that is a prefix of another finds only its own; what is not taken
// is left, in name order; names that are not message files are others.
func TestFileSet(t *testing.T) {
	dir := t.TempDir()
	f := &Folder{Dir: dir}
	for _, sub := range []string{"cur", "new"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"cur/m7.1,S=5,W=6:2,S", "cur/m7.10,S=5,W=5:2,", "cur/m7.2,S=9,W=9:2,FS",
		"cur/m7.2,S=9,W=9:2,S", "cur/junk", "new/m7.3,S=1,W=1:2,"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, others, err := f.scanSet()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"cur/junk", "new/m7.3,S=1,W=1:2,"}; !slices.Equal(others, want) {
		t.Errorf("others = %q, want %q", others, want)
	}
	for _, c := range []struct {
		key  string
		want string // file name, "" for none
	}{
		{"m7.1", "m7.1,S=5,W=6:2,S"},
		{"m7.1", ""},
		{"m7.2", "m7.2,S=9,W=9:2,FS"},
		{"m7.3", ""},
		{"m7.4", ""},
	} {
		mf, ok := s.take(c.key)
		if got := map[bool]string{true: mf.Name()}[ok]; got != c.want {
			t.Errorf("take(%s) = %q, want %q", c.key, got, c.want)
		}
	}
	var left []string
	s.left(func(mf MessageFile) error { left = append(left, mf.Name()); return nil })
	if want := []string{"m7.10,S=5,W=5:2,", "m7.2,S=9,W=9:2,S"}; !slices.Equal(left, want) {
		t.Errorf("left = %q, want %q", left, want)
	}
}
