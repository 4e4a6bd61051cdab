package index

import (
	"context"
	"fmt"
	"io"

	"github.com/mailkeep/mailkeep/archive"
)

// sourcePage is how many catalog rows a SnapshotSource reads per query: no
// read of the catalog stays open while the index writes.
const sourcePage = 512

// SnapshotSource is the Source of an account's archive: its catalog rows
// through the read view (archive.Snapshot), and each message's content
// through the verified stream (archive.Folder.OpenMessage). It never
// touches a writer's transactions, so it can run beside a backup.
type SnapshotSource struct {
	snap    *archive.Snapshot
	folders map[int64]archive.FolderState
	open    map[int64]*archive.Folder
	rows    map[int64]archive.Message // the page being listed
}

var _ IncrementalSource = (*SnapshotSource)(nil)

// NewSource returns the Source of snap. It is used by one goroutine.
func NewSource(snap *archive.Snapshot) *SnapshotSource {
	return &SnapshotSource{snap: snap, folders: map[int64]archive.FolderState{}, open: map[int64]*archive.Folder{}}
}

// Messages lists every catalog row, gone ones included, in id order.
func (s *SnapshotSource) Messages(ctx context.Context, fn func(MessageInfo) error) error {
	return s.MessagesAfter(ctx, 0, fn)
}

// MessagesAfter lists the catalog rows with an id above after, in id
// order, a page at a time.
func (s *SnapshotSource) MessagesAfter(ctx context.Context, after int64, fn func(MessageInfo) error) error {
	for {
		page, err := s.snap.MessagesAfter(ctx, after, sourcePage)
		if err != nil || len(page) == 0 {
			return err
		}
		s.rows = make(map[int64]archive.Message, len(page))
		for _, m := range page {
			s.rows[m.ID] = m
		}
		for _, m := range page {
			st, err := s.folder(ctx, m.FolderID)
			if err != nil {
				return err
			}
			err = fn(MessageInfo{ID: m.ID, Folder: st.Name, Key: m.Key, Size: m.Size, Date: m.InternalDate})
			if err != nil {
				return err
			}
			after = m.ID
		}
	}
}

// folder returns the catalog row of folder id, reading the folders again
// when a backup has added one since.
func (s *SnapshotSource) folder(ctx context.Context, id int64) (archive.FolderState, error) {
	if st, ok := s.folders[id]; ok {
		return st, nil
	}
	all, err := s.snap.AllFolders(ctx)
	if err != nil {
		return archive.FolderState{}, err
	}
	for _, st := range all {
		s.folders[st.ID] = st
	}
	st, ok := s.folders[id]
	if !ok {
		return st, fmt.Errorf("catalog: message of unknown folder %d", id)
	}
	return st, nil
}

// Open returns the verified content of a message of the page being
// listed.
func (s *SnapshotSource) Open(ctx context.Context, m MessageInfo) (io.ReadCloser, error) {
	row, ok := s.rows[m.ID]
	if !ok {
		var err error
		if row, err = s.snap.MessageByID(ctx, m.ID); err != nil {
			return nil, err
		}
	}
	f, ok := s.open[row.FolderID]
	if !ok {
		st, err := s.folder(ctx, row.FolderID)
		if err != nil {
			return nil, err
		}
		if f, err = s.snap.Folder(st); err != nil {
			return nil, err
		}
		s.open[row.FolderID] = f
	}
	return f.OpenMessage(row)
}
