package archive

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mailkeep/mailkeep/internal/durable"
)

// Batch gathers staged messages and makes them durable and visible together:
// fsync every file (in parallel), write the keyword file of a folder with
// new keywords, rename each into cur/, fsync each folder's cur/ once. Only after Commit returns may the catalog name the files.
type Batch struct {
	items []*Staged
	names []string
	bytes int64
}

// Add queues st to be published under key with the given flag letters;
// date becomes the file's mtime (Dovecot's INTERNALDATE). A link keeps
// the mtime of its content, which the caller made sure is date (see
// SameDate). It returns the file's final name.
func (b *Batch) Add(st *Staged, key, letters string, date time.Time) (MessageFile, error) {
	mf := MessageFile{Key: key, Size: st.Size, VSize: st.VSize, Flags: letters}
	if !st.Linked {
		if err := os.Chtimes(st.tmp, date, date); err != nil {
			st.Discard()
			return mf, fmt.Errorf("set mtime: %w", err)
		}
	}
	st.Key = key
	st.header = nil // what was wanted of it is known by now
	b.items = append(b.items, st)
	b.names = append(b.names, mf.Name())
	b.bytes += st.Size
	return mf, nil
}

// Len is the number of queued messages; Bytes their uncompressed size.
func (b *Batch) Len() int     { return len(b.items) }
func (b *Batch) Bytes() int64 { return b.bytes }

// Items returns the queued messages with the names they are published under.
func (b *Batch) Items() ([]*Staged, []string) { return b.items, b.names }

// Commit makes every queued file durable under its final name. On error,
// files not yet renamed are removed; renamed ones stay (they are complete
// and durable, and the next run adopts them).
func (b *Batch) Commit() error {
	if err := b.syncAll(); err != nil {
		b.Abort()
		return err
	}
	if err := b.saveKeywords(); err != nil {
		b.Abort()
		return err
	}
	dirs := map[string]bool{}
	for i, st := range b.items {
		dst := filepath.Join(st.Folder.Dir, "cur", b.names[i])
		if err := os.Rename(st.tmp, dst); err != nil {
			b.items = b.items[i:]
			b.Abort()
			return fmt.Errorf("publish %s: %w", b.names[i], err)
		}
		dirs[filepath.Dir(dst)] = true
	}
	for d := range dirs {
		if err := SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// saveKeywords writes the keyword file of each folder of the batch that
// has new keywords, before a file named with their letters is published.
func (b *Batch) saveKeywords() error {
	var last *Folder
	for _, st := range b.items {
		if st.Folder == last {
			continue
		}
		last = st.Folder
		if err := last.SaveKeywords(); err != nil {
			return err
		}
	}
	return nil
}

// syncAll fsyncs and closes every staged file, durable.Parallel at a time.
func (b *Batch) syncAll() error {
	files := make([]*os.File, len(b.items))
	for i, st := range b.items {
		files[i], st.file = st.file, nil
	}
	return durable.SyncClose(files, func(i int) string { return b.items[i].Key })
}

// Abort removes every queued temp file.
func (b *Batch) Abort() {
	for _, st := range b.items {
		st.Discard()
	}
	b.Reset()
}

// Reset empties the batch after a successful Commit.
func (b *Batch) Reset() {
	b.items, b.names, b.bytes = b.items[:0], b.names[:0], 0
}
