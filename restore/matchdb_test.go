package restore

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// openFiles maps the process's open descriptors to what they name.
func openFiles(t *testing.T) map[string]string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	out := map[string]string{}
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil {
			out[fd.Name()] = target
		}
	}
	return out
}

// TestMatchDBFileIsPrivateAndGone: what a match spills to disk (Message-IDs
// and sizes of both folders) goes to a file that is owner-only and already
// unlinked, so that no one else can read it and a killed process leaves
// nothing behind.
func TestMatchDBFileIsPrivateAndGone(t *testing.T) {
	ctx := t.Context()
	before := openFiles(t)
	d, err := openMatchDB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.addHeld(ctx, func(add func(held) error) error {
		for i := range 150_000 { // more than the page cache holds
			id := fmt.Sprintf("<%d.%s@example.org>", i, strings.Repeat("x", 40))
			if err := add(held{uid: imap.UID(i + 1), id: id, size: int64(i)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	found := 0
	for fd, target := range openFiles(t) {
		if before[fd] == target || !strings.HasPrefix(target, "/") {
			continue // open before, or a socket, pipe or epoll
		}
		found++
		if !strings.HasSuffix(target, " (deleted)") {
			t.Errorf("%s is open and still linked", target)
		}
		fi, err := os.Stat(filepath.Join("/proc/self/fd", fd))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v", target, fi.Mode().Perm())
		}
	}
	if found == 0 {
		t.Fatal("the match spilled to no file")
	}
}
