package replicate_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/replicate"
)

// sampleReplica is a replica of format 1 (mailkeep-replica 1) of the
// sample archive of archive/testdata, as a directory replica. Run with
// MAILKEEP_WRITE_SAMPLE_REPLICA=1 to write it anew.
const sampleReplica = "testdata/replica1"

// TestSampleReplica: a replica written by an earlier build still opens,
// checks clean and reads the same messages as the archive it was made of.
func TestSampleReplica(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	copyDir(t, "../archive/testdata/format1-schema2", root)
	if os.Getenv("MAILKEEP_WRITE_SAMPLE_REPLICA") == "1" {
		os.RemoveAll(sampleReplica)
		os.MkdirAll(sampleReplica, 0o755)
		st, err := replicate.NewDir(sampleReplica, "sample")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := replicate.Run(ctx, root, "sample", st, replicate.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := replicate.NewDir(sampleReplica, "sample")
	if err != nil {
		t.Fatal(err)
	}
	check(t, st, 9)
	rp, err := replicate.Open(ctx, st, "")
	if err != nil {
		t.Fatal(err)
	}
	defer rp.Close()
	snap, err := archive.OpenSnapshot(ctx, root, "sample")
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	want, got := contents(t, snap, archive.View{}), contents(t, rp.Snapshot, archive.View{})
	if len(want) != 9 || len(got) != len(want) {
		t.Fatalf("replica %d messages, archive %d", len(got), len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s differs", k)
		}
	}
}

// TestUnknownReplicaFormat: a manifest of another format, or of an
// archive of another format, is refused with a clear error.
func TestUnknownReplicaFormat(t *testing.T) {
	for old, tc := range map[string]struct{ new, want string }{
		`"format": "mailkeep-replica 1"`: {`"format": "mailkeep-replica 2"`,
			`MANIFEST: format "mailkeep-replica 2" (this mailkeep reads "mailkeep-replica 1")`},
		`"archive_format": "mailkeep-archive 1"`: {`"archive_format": "mailkeep-archive 9"`,
			`MANIFEST: unsupported archive format: version 9 (this mailkeep reads versions 1 and 2)`},
	} {
		dir := t.TempDir()
		copyDir(t, sampleReplica, dir)
		path := filepath.Join(dir, "sample", "MANIFEST")
		data, _ := os.ReadFile(path)
		os.WriteFile(path, []byte(strings.Replace(string(data), old, tc.new, 1)), 0o600)
		st, err := replicate.NewDir(dir, "sample")
		if err != nil {
			t.Fatal(err)
		}
		_, err = replicate.Open(context.Background(), st, "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open: %v, want %q", err, tc.want)
		}
	}
}

// copyDir copies a tree of files; git keeps no empty directories, so each
// Maildir's cur/ gets its new/ and tmp/ back.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if e.IsDir() {
			if e.Name() == "cur" {
				os.MkdirAll(filepath.Join(filepath.Dir(dst), "new"), 0o700)
				os.MkdirAll(filepath.Join(filepath.Dir(dst), "tmp"), 0o700)
			}
			return os.MkdirAll(dst, 0o700)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}
