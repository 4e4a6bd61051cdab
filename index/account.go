package index

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"

	"github.com/mailkeep/mailkeep/archive"
)

// CatchupAccount brings the index of account (under root) up to date
// with its archive alone: Catchup, which also drops docs whose row is
// gone, or with rebuild, Rebuild. The caller holds the account's lock
// (archive.OpenWriter), so that no backup writes the index meanwhile. It
// returns how many messages it indexed.
func CatchupAccount(ctx context.Context, root, account string, rebuild bool, log *slog.Logger) (int, error) {
	snap, err := archive.OpenSnapshot(ctx, root, account)
	if err != nil {
		return 0, err
	}
	defer snap.Close()
	ix, err := Open(ctx, filepath.Join(root, account), log)
	if err != nil {
		return 0, err
	}
	defer ix.Close()
	if rebuild {
		return ix.Rebuild(ctx, NewSource(snap))
	}
	return ix.Catchup(ctx, NewSource(snap))
}

// Resolve returns the catalog row, and its folder, of the message whose
// handle is, or begins with, handle (at least 8 hex digits). It asks the
// account's index first; when there is none, or it does not know the
// handle (the index is off or behind), it scans the catalog computing
// handles, so that every archived message resolves. Errors: ErrBadHandle,
// ErrNotFound, ErrAmbiguous.
func Resolve(ctx context.Context, snap *archive.Snapshot, handle string) (archive.Message, archive.FolderState, error) {
	h := strings.ToLower(handle)
	if len(h) < minHandle || len(h) > archive.HandleDigits || strings.Trim(h, "0123456789abcdef") != "" {
		return archive.Message{}, archive.FolderState{}, fmt.Errorf("%q: %w", handle, ErrBadHandle)
	}
	m, st, err := resolveIndexed(ctx, snap, h)
	if err == nil || errors.Is(err, ErrAmbiguous) {
		return m, st, err
	}
	return scanHandle(ctx, snap, h)
}

// resolveIndexed looks the handle up in the index and checks it against
// the catalog's row.
func resolveIndexed(ctx context.Context, snap *archive.Snapshot, h string) (archive.Message, archive.FolderState, error) {
	ix, err := OpenReadOnly(ctx, snap.Dir())
	if err != nil {
		return archive.Message{}, archive.FolderState{}, err
	}
	defer ix.Close()
	id, err := ix.Lookup(ctx, h)
	if err != nil {
		return archive.Message{}, archive.FolderState{}, err
	}
	m, err := snap.MessageByID(ctx, id)
	if err != nil {
		return archive.Message{}, archive.FolderState{}, err
	}
	st, err := folderByID(ctx, snap, m.FolderID)
	if err != nil {
		return archive.Message{}, archive.FolderState{}, err
	}
	if !strings.HasPrefix(archive.Handle(st.Name, m.Key), h) {
		return archive.Message{}, archive.FolderState{}, ErrNotFound // the row was renumbered
	}
	return m, st, nil
}

func folderByID(ctx context.Context, snap *archive.Snapshot, id int64) (archive.FolderState, error) {
	all, err := snap.AllFolders(ctx)
	if err != nil {
		return archive.FolderState{}, err
	}
	for _, st := range all {
		if st.ID == id {
			return st, nil
		}
	}
	return archive.FolderState{}, fmt.Errorf("catalog: no folder %d", id)
}

// scanHandle computes the handle of every catalog row.
func scanHandle(ctx context.Context, snap *archive.Snapshot, h string) (archive.Message, archive.FolderState, error) {
	folders, err := snap.AllFolders(ctx)
	if err != nil {
		return archive.Message{}, archive.FolderState{}, err
	}
	names := map[int64]string{}
	for _, st := range folders {
		names[st.ID] = st.Name
	}
	var found []int64
	err = snap.MessageKeys(ctx, func(id, folder int64, key string) error {
		if name, ok := names[folder]; ok && strings.HasPrefix(archive.Handle(name, key), h) {
			found = append(found, id)
		}
		return nil
	})
	switch {
	case err != nil:
		return archive.Message{}, archive.FolderState{}, err
	case len(found) == 0:
		return archive.Message{}, archive.FolderState{}, fmt.Errorf("%s: %w", h, ErrNotFound)
	case len(found) > 1:
		return archive.Message{}, archive.FolderState{}, fmt.Errorf("%s: %w", h, ErrAmbiguous)
	}
	m, err := snap.MessageByID(ctx, found[0])
	if err != nil {
		return archive.Message{}, archive.FolderState{}, err
	}
	st, err := folderByID(ctx, snap, m.FolderID)
	return m, st, err
}

// Summary is what the index holds of a message for a listing.
type Summary struct {
	ID            int64
	Folder, Key   string
	From, Subject string
}

// Docs returns the docs of the given catalog row ids, by id; the index
// may lack some. A doc whose key differs from its row's is stale: the
// caller compares. ids should be a page (SQLite takes up to 32,766 of
// them).
func (ix *Index) Docs(ctx context.Context, ids []int64) (map[int64]Summary, error) {
	out := make(map[int64]Summary, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := ix.db.QueryContext(ctx, `SELECT id, folder, key, sender, subject FROM docs WHERE id IN (?`+
		strings.Repeat(", ?", len(ids)-1)+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s Summary
		if err := rows.Scan(&s.ID, &s.Folder, &s.Key, &s.From, &s.Subject); err != nil {
			return nil, fmt.Errorf("index: %w", err)
		}
		out[s.ID] = s
	}
	return out, rows.Err()
}

// ExtractHeader reads a message's header only and returns its decoded
// From, To, Cc, Subject and Message-ID, as Extract does.
func ExtractHeader(r io.Reader) (Doc, error) {
	x := &extractor{}
	h, _, err := readHeader(r)
	x.headers(mail.Header{Header: message.Header{Header: h}})
	return x.doc, err
}
