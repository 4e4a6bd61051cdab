package export

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mailkeep/mailkeep/internal/durable"
)

// Permissions of what an export creates: mail is private.
const (
	dirPerm  = 0o750
	filePerm = 0o640
)

// Temp files are ".mailkeep-<16 hex digits>.tmp" in the directory their file
// is published in (a Maildir's tmp/). No folder directory begins with ".",
// so they never collide with one, and a later export removes those an
// interrupted one left.
const (
	tempPrefix = ".mailkeep-"
	tempSuffix = ".tmp"
)

func isTempName(name string) bool {
	h, ok := strings.CutPrefix(name, tempPrefix)
	h, ok2 := strings.CutSuffix(h, tempSuffix)
	if !ok || !ok2 || len(h) != 16 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}

// tree is the export's target directory. Every path is slash-separated and
// relative to it, and every access goes through an os.Root: nothing can
// resolve outside the target, whatever links it holds.
type tree struct {
	root *os.Root
	made map[string]bool // directories known to exist
}

func openTree(dir string) (*tree, error) {
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &tree{root: root, made: map[string]bool{".": true}}, nil
}

func (t *tree) close() error { return t.root.Close() }

// mkdirs creates dir and its parents; where it creates a directory, it
// fsyncs the parent, so that the directory outlives a crash.
func (t *tree) mkdirs(dir string) error {
	if t.made[dir] {
		return nil
	}
	if err := t.mkdirs(path.Dir(dir)); err != nil {
		return err
	}
	switch err := t.root.Mkdir(dir, dirPerm); {
	case err == nil:
		if err := t.syncDir(path.Dir(dir)); err != nil {
			return err
		}
	case !errors.Is(err, fs.ErrExist):
		return err
	}
	t.made[dir] = true
	return nil
}

// syncDir makes renames and creations in dir durable.
func (t *tree) syncDir(dir string) error {
	d, err := t.root.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

// temp creates a new temp file in dir.
func (t *tree) temp(dir string) (*os.File, string, error) {
	var b [8]byte
	rand.Read(b[:])
	name := path.Join(dir, tempPrefix+hex.EncodeToString(b[:])+tempSuffix)
	f, err := t.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return nil, "", fmt.Errorf("create temp file: %w", err)
	}
	return f, name, nil
}

// entries lists the regular files of dir with their sizes, and removes
// the temp files an interrupted export left there.
func (t *tree) entries(dir string) (map[string]int64, error) {
	d, err := t.root.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	list, err := d.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	files := map[string]int64{}
	for _, e := range list {
		switch {
		case !e.Type().IsRegular():
		case isTempName(e.Name()):
			if err := t.root.Remove(path.Join(dir, e.Name())); err != nil {
				return nil, fmt.Errorf("remove stale temp file: %w", err)
			}
		default:
			info, err := e.Info()
			if err != nil {
				return nil, err
			}
			files[e.Name()] = info.Size()
		}
	}
	return files, nil
}

// writeAtomic replaces the file name with data: temp file, fsync, rename,
// fsync of the directory.
func (t *tree) writeAtomic(name string, data []byte) error {
	f, tmp, err := t.temp(path.Dir(name))
	if err != nil {
		return err
	}
	p := pending{f: f, tmp: tmp, final: name}
	if _, err := f.Write(data); err != nil {
		p.discard(t)
		return fmt.Errorf("write %s: %w", name, err)
	}
	b := batch{t: t}
	b.add(p)
	return b.commit()
}

// setMtime sets the modification time of an open file (Dovecot's and
// mutt's INTERNALDATE, the date a mail client shows for an eml).
func setMtime(f *os.File, date time.Time) error {
	tv := unix.NsecToTimeval(date.UnixNano())
	if err := unix.Futimes(int(f.Fd()), []unix.Timeval{tv, tv}); err != nil {
		return fmt.Errorf("set mtime: %w", err)
	}
	return nil
}

// pending is a complete temp file waiting to be published.
type pending struct {
	f     *os.File
	tmp   string
	final string
	stale string // a file that final replaces under another name ("" for none)
	size  int64
}

func (p *pending) discard(t *tree) {
	if p.f != nil {
		p.f.Close()
		p.f = nil
	}
	if p.tmp != "" {
		t.root.Remove(p.tmp)
	}
}

// A batch is committed at batchFiles files or batchBytes bytes, and at the
// end of each folder.
const (
	batchFiles = 64
	batchBytes = 64 << 20
)

// batch publishes temp files together: fsync every file (durable.Parallel at a
// time), rename each to its final name, remove the files they replace,
// fsync each directory once. Before commit returns, no final name refers
// to an incomplete file; after, every file is durable.
type batch struct {
	t     *tree
	items []pending
	bytes int64
	lost  tally // what a failed commit discarded, until abort reports it
}

// full reports whether the batch should be committed now.
func (b *batch) full() bool { return len(b.items) >= batchFiles || b.bytes >= batchBytes }

func (b *batch) add(p pending) {
	b.items = append(b.items, p)
	b.bytes += p.size
}

// commit publishes the batch. When it fails, the files it did not publish
// are discarded and counted for abort; those it published stay.
func (b *batch) commit() error {
	if err := b.syncAll(); err != nil {
		b.drop(0)
		return err
	}
	dirs := map[string]bool{}
	for i := range b.items {
		p := &b.items[i]
		if err := b.t.root.Rename(p.tmp, p.final); err != nil {
			b.drop(i)
			return fmt.Errorf("publish %s: %w", p.final, err)
		}
		dirs[path.Dir(p.final)] = true
		if p.stale != "" {
			if err := b.t.root.Remove(p.stale); err != nil && !errors.Is(err, fs.ErrNotExist) {
				b.drop(i + 1)
				return fmt.Errorf("remove %s: %w", p.stale, err)
			}
		}
	}
	b.items, b.bytes = b.items[:0], 0
	for d := range dirs {
		if err := b.t.syncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// drop discards the batch's files from the i-th on, counts them as lost,
// and empties the batch.
func (b *batch) drop(i int) {
	for j := range b.items[i:] {
		p := &b.items[i+j]
		p.discard(b.t)
		b.lost.messages++
		b.lost.bytes += p.size
	}
	b.items, b.bytes = b.items[:0], 0
}

// syncAll fsyncs and closes every file, durable.Parallel at a time.
func (b *batch) syncAll() error {
	files := make([]*os.File, len(b.items))
	for i := range b.items {
		files[i], b.items[i].f = b.items[i].f, nil
	}
	return durable.SyncClose(files, func(i int) string { return b.items[i].final })
}

// abort removes every temp file of the batch, and says how many messages
// were lost: those and any a failed commit discarded.
func (b *batch) abort() tally {
	b.drop(0)
	l := b.lost
	b.lost = tally{}
	return l
}
