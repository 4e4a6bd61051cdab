package archive

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Shared content. Within one account, a message whose content the archive
// already holds is stored as a hard link to the file that holds it: each
// folder keeps a file of its own name (its key, sizes and flags), and
// Dovecot reads every one of them. Links share one inode, so one mtime,
// which is the INTERNALDATE Dovecot serves: content is shared only
// between messages with the same INTERNALDATE (SameDate). A link is made
// in tmp/ and published by a Batch like any staged message (fsync, rename
// into cur/, fsync of cur/, then the row), so the write ordering and the
// crash model are those of every other message. Unlinking one name frees
// nothing while another name is left (see prune's accounting).

// SameDate reports whether two INTERNALDATEs are one mtime on disk: the
// same instant to the second.
func SameDate(a, b time.Time) bool {
	return a.Truncate(time.Second).Equal(b.Truncate(time.Second))
}

// StageLink stages, in f's tmp/, a new name for the content of src: a
// complete, published message file of the same account whose row is c,
// or a staged file another sync is about to publish. The name is
// published by a Batch like any staged message; its content, size and
// mtime are src's. It fails (wrapping fs.ErrNotExist) when src is gone,
// and with the link error where the filesystem refuses hard links
// (EXDEV, EMLINK, EPERM): the caller then stores its own copy.
func (f *Folder) StageLink(src string, c Message) (*Staged, error) {
	tmp := filepath.Join(f.Dir, "tmp", randHex()+".tmp")
	if err := os.Link(src, tmp); err != nil {
		return nil, fmt.Errorf("link %s: %w", c.Key, err)
	}
	file, err := os.Open(tmp)
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("link %s: %w", c.Key, err)
	}
	st := &Staged{Folder: f, tmp: tmp, file: file, Size: c.Size, VSize: c.VSize, SHA256: c.SHA256,
		MessageID: c.MessageID, FileSHA256: c.FileSHA256, Linked: true}
	if fi, err := file.Stat(); err == nil {
		st.DiskSize = fi.Size()
	}
	return st, nil
}

// Path is the staged file's current path: in tmp/ until its batch
// publishes it. Another sync may link to it meanwhile (StageLink): the
// link holds the content even if this file is then discarded.
func (st *Staged) Path() string { return st.tmp }

// ContentPath returns the path of the published file of an archived
// content: the file its row names, or the file its key has now (a flag
// change renamed it). The error wraps fs.ErrNotExist when there is none.
func (a *Writer) ContentPath(c Content) (string, error) {
	rel := filepath.FromSlash(c.Dir)
	if !filepath.IsLocal(rel) {
		return "", fmt.Errorf("catalog dir %q lies outside the archive", c.Dir)
	}
	f := &Folder{Dir: filepath.Join(a.MailDir(), rel, MaildirLevel)}
	mf, err := ParseMessageFile(c.File)
	if err != nil {
		return "", fmt.Errorf("catalog file name: %w", err)
	}
	if _, err := os.Lstat(f.Path(mf)); err == nil {
		return f.Path(mf), nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	name, err := f.findKey(c.Key)
	if err != nil {
		return "", err
	}
	return filepath.Join(f.Dir, "cur", name), nil
}

// LinkRefused reports whether a failed StageLink means that the file
// system will not link (another device, too many links, no hard links at
// all) rather than that the source is gone.
func LinkRefused(err error) bool {
	return errors.Is(err, syscall.EXDEV) || errors.Is(err, syscall.EMLINK) || errors.Is(err, syscall.EPERM) ||
		errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EOPNOTSUPP)
}

// inode identifies a file's content on disk, and how many names it has.
type inode struct {
	dev, ino uint64
	nlink    uint64
}

// inodeOf returns the inode of fi; ok is false where the platform does
// not say.
func inodeOf(fi fs.FileInfo) (inode, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return inode{}, false
	}
	return inode{dev: uint64(st.Dev), ino: st.Ino, nlink: uint64(st.Nlink)}, true
}

// freedBytes returns, for files about to be unlinked together (each given
// by its FileInfo; nil for one that is gone), how many bytes of disk each
// unlink frees: a file's size when the group holds all its names (counted
// at its last name in the group), 0 otherwise. A file the platform says
// nothing about frees its size.
func freedBytes(infos []fs.FileInfo) []int64 {
	out := make([]int64, len(infos))
	total := map[[2]uint64]uint64{}
	for _, fi := range infos {
		if fi == nil {
			continue
		}
		if id, ok := inodeOf(fi); ok {
			total[[2]uint64{id.dev, id.ino}]++
		}
	}
	left := maps.Clone(total)
	for i, fi := range infos {
		if fi == nil {
			continue
		}
		id, ok := inodeOf(fi)
		if !ok {
			out[i] = fi.Size()
			continue
		}
		k := [2]uint64{id.dev, id.ino}
		left[k]--
		if left[k] == 0 && total[k] >= id.nlink {
			out[i] = fi.Size()
		}
	}
	return out
}
