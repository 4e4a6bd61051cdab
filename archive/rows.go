package archive

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// The read view by catalog row, for readers that walk an account's
// messages whatever their folder (the search index) or look one up by its
// row id (show, restore --id).

// MessagesAfter returns up to limit catalog rows with an id above after,
// gone ones included, in id order, with their current flags. Rows are
// added in commit order, so paging on the last id returned walks every
// row once, also while a backup commits.
func (s *Snapshot) MessagesAfter(ctx context.Context, after int64, limit int) ([]Message, error) {
	return s.cat.queryMessages(ctx, `id > ? ORDER BY id LIMIT ?`, after, limit)
}

// ErrNoMessage reports a catalog row id that the catalog does not hold.
var ErrNoMessage = errors.New("no such message in the catalog")

// MessageByID returns the catalog row id, gone or not.
func (s *Snapshot) MessageByID(ctx context.Context, id int64) (Message, error) {
	ms, err := s.cat.queryMessages(ctx, `id = ?`, id)
	if err != nil {
		return Message{}, err
	}
	if len(ms) == 0 {
		return Message{}, fmt.Errorf("row %d: %w", id, ErrNoMessage)
	}
	return ms[0], nil
}

// MessageKeys calls fn with the id, folder and key of every catalog row,
// gone ones included, in id order, from one query: what a reader needs
// to compute every message's Handle. fn must not call the Snapshot.
func (s *Snapshot) MessageKeys(ctx context.Context, fn func(id, folderID int64, key string) error) error {
	rows, err := s.cat.db.QueryContext(ctx, `SELECT id, folder_id, key FROM messages ORDER BY id`)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, folder int64
		var key string
		if err := rows.Scan(&id, &folder, &key); err != nil {
			return fmt.Errorf("catalog: %w", err)
		}
		if err := fn(id, folder, key); err != nil {
			return err
		}
	}
	return rows.Err()
}

// AllFolders returns every folder the catalog knows, gone ones included,
// in name order.
func (s *Snapshot) AllFolders(ctx context.Context) ([]FolderState, error) { return s.cat.Folders(ctx) }

// DiskBytes returns the bytes that the folder's published message files
// take (their compressed size), and how many there are.
func (f *Folder) DiskBytes() (bytes int64, files int, err error) {
	entries, err := os.ReadDir(filepath.Join(f.Dir, "cur"))
	if err != nil {
		return 0, 0, err
	}
	for _, e := range entries {
		if _, perr := ParseMessageFile(e.Name()); perr != nil {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) { // renamed by a backup meanwhile
			continue
		}
		if err != nil {
			return 0, 0, err
		}
		bytes += fi.Size()
		files++
	}
	return bytes, files, nil
}
