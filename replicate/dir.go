package replicate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mailkeep/mailkeep/archive"
)

// Dir is a replica in a directory: each object a file below it, written
// to tmp/ first, fsync'd, renamed into place and its directory fsync'd.
type Dir struct {
	root string
}

// NewDir returns the replica of an account in dir/account. The directory
// dir must exist (a mount point that is not mounted is an error, not a
// new empty replica on the wrong disk); dir/account is created.
func NewDir(dir, account string) (*Dir, error) {
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("replica directory: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("replica directory %s: not a directory", dir)
	}
	return &Dir{root: filepath.Join(dir, account)}, nil
}

func (d *Dir) String() string { return d.root }

func (d *Dir) path(name string) (string, error) {
	p := filepath.FromSlash(name)
	if !filepath.IsLocal(p) {
		return "", fmt.Errorf("object name %q lies outside the replica", name)
	}
	return filepath.Join(d.root, p), nil
}

// List walks the directory of prefix; files under tmp/ are not objects.
func (d *Dir) List(ctx context.Context, prefix string, fn func(string, int64) error) error {
	base, _ := cutLastSlash(prefix)
	start, err := d.path(base)
	if err != nil {
		return err
	}
	err = filepath.WalkDir(start, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if !strings.HasPrefix(name, prefix) || strings.HasPrefix(name, "tmp/") {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		return fn(name, fi.Size())
	})
	if err != nil {
		return fmt.Errorf("list %s: %w", d.root, err)
	}
	return nil
}

func cutLastSlash(s string) (string, string) {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return ".", s
}

// Put writes the object through a temp file in tmp/.
func (d *Dir) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	dst, err := d.path(name)
	if err != nil {
		return err
	}
	tmpDir := filepath.Join(d.root, "tmp")
	if err := os.MkdirAll(tmpDir, 0o700); err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	tmp := filepath.Join(tmpDir, randomName())
	if err := writeSynced(tmp, r, size); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("put %s: %w", name, err)
	}
	if err := d.publish(tmp, dst); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("put %s: %w", name, err)
	}
	return nil
}

func randomName() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b) + ".tmp"
}

// writeSynced copies exactly size bytes from r into a new file at path
// and fsyncs it.
func writeSynced(path string, r io.Reader, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, r)
	if err == nil && n != size {
		err = fmt.Errorf("wrote %d bytes, want %d", n, size)
	}
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// publish renames tmp to dst, creating dst's directory, and fsyncs the
// directory; a directory it created is made durable in its parent too, up
// to the replica's own.
func (d *Dir) publish(tmp, dst string) error {
	dir := filepath.Dir(dst)
	_, statErr := os.Stat(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	if err := archive.SyncDir(dir); err != nil {
		return err
	}
	for statErr != nil && dir != filepath.Dir(d.root) && dir != "/" {
		dir = filepath.Dir(dir)
		if err := archive.SyncDir(dir); err != nil {
			return err
		}
	}
	return nil
}

func (d *Dir) Get(_ context.Context, name string) (io.ReadCloser, error) {
	p, err := d.path(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", name, err)
	}
	return f, nil
}

func (d *Dir) Delete(_ context.Context, name string) error {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// CleanTmp removes the temp files an interrupted run left; the caller
// holds the replica's lock.
func (d *Dir) CleanTmp() error {
	err := os.RemoveAll(filepath.Join(d.root, "tmp"))
	if err != nil {
		return fmt.Errorf("clean %s: %w", d.root, err)
	}
	return nil
}
