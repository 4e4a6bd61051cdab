package restore

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// TestMatchDBFileIsPrivateAndGone: what a match spills to disk (Message-IDs
// and sizes of both folders) goes to a file that is owner-only and already
// unlinked, so that no one else can read it and a killed process leaves
// nothing behind.
func TestMatchDBFileIsPrivateAndGone(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SQLITE_TMPDIR", dir)
	ctx := t.Context()
	d, err := openMatchDB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.addHeld(ctx, func(add func(held) error) error {
		for i := range 60_000 { // more than the page cache holds
			id := fmt.Sprintf("<%d.%s@example.org>", i, strings.Repeat("x", 40))
			if err := add(held{uid: imap.UID(i + 1), id: id, size: int64(i)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if names, _ := os.ReadDir(dir); len(names) > 0 {
		t.Errorf("the match left %d files in its directory", len(names))
	}
	found := 0
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, fd := range fds {
		p := filepath.Join("/proc/self/fd", fd.Name())
		target, err := os.Readlink(p)
		if err != nil || !strings.HasPrefix(target, dir) {
			continue
		}
		found++
		if !strings.HasSuffix(target, " (deleted)") {
			t.Errorf("%s is open and still linked", target)
		}
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v", target, fi.Mode().Perm())
		}
	}
	if found == 0 {
		t.Fatal("the match spilled to no file under SQLITE_TMPDIR")
	}
}
