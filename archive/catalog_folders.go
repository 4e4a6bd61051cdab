package archive

import (
	"context"
	"database/sql"
	"fmt"
)

// FolderState is a folder's row: its server-side sync state.
type FolderState struct {
	ID            int64
	Name          string
	Delim         string
	Dir           string
	UIDValidity   uint32
	UIDNext       uint32
	HighestModSeq uint64
	Messages      uint32
	LastRun       int64
	Gone          bool
	// SpecialUse are the folder's RFC 6154 special-use attributes (`\Sent`,
	// `\Drafts`…), space-separated, as the server last listed them; empty
	// when it listed none, or the archive predates catalog schema 5.
	// Snapshot.Folders fills it; SplitFlags splits it.
	SpecialUse string
}

const folderCols = `id, name, delim, dir, uidvalidity, uidnext, highestmodseq, messages, last_run, gone_run IS NOT NULL`

// specialUseCol is the special_use column for a catalog of schema v: an
// older one has none, and its folders read as having no attributes.
func specialUseCol(v int) string {
	if v < listingSchema {
		return "''"
	}
	return "special_use"
}

func scanFolder(s interface{ Scan(...any) error }) (FolderState, error) {
	var f FolderState
	err := s.Scan(&f.ID, &f.Name, &f.Delim, &f.Dir, &f.UIDValidity, &f.UIDNext, &f.HighestModSeq,
		&f.Messages, &f.LastRun, &f.Gone)
	return f, err
}

// Folders returns every folder the catalog knows, gone ones included.
func (c *Catalog) Folders(ctx context.Context) ([]FolderState, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT `+folderCols+` FROM folders ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []FolderState
	for rows.Next() {
		f, err := scanFolder(rows)
		if err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// EnsureFolder returns the folder's row, creating it (or reviving a folder
// that had gone) in run.
func (c *Catalog) EnsureFolder(ctx context.Context, f *Folder, run int64) (FolderState, error) {
	st, err := scanFolder(c.db.QueryRowContext(ctx, `SELECT `+folderCols+` FROM folders WHERE name = ?`, f.Name))
	if err == nil && !st.Gone {
		return st, nil
	}
	if err != nil && !isNoRows(err) {
		return st, fmt.Errorf("catalog: %w", err)
	}
	err = c.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO folders (name, delim, dir, first_run, last_run)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET gone_run = NULL`,
			f.Name, delimString(f.Delim), f.Rel, run, run)
		if err != nil {
			return err
		}
		st, err = scanFolder(tx.QueryRowContext(ctx, `SELECT `+folderCols+` FROM folders WHERE name = ?`, f.Name))
		return err
	})
	return st, err
}

// SetFolderState records the server state a run synced the folder to.
// Messages are not touched: presence at a run follows from their
// first_run and gone_run alone. It is called once every message file
// the run wrote to the folder has its row, so it also records the run as
// the folder's clean run (see MayHaveOrphans).
func (c *Catalog) SetFolderState(ctx context.Context, st FolderState, run int64) error {
	return c.tx(ctx, func(tx *sql.Tx) error { return setFolderState(ctx, tx, st, run) })
}

func setFolderState(ctx context.Context, tx *sql.Tx, st FolderState, run int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE folders SET uidvalidity = ?, uidnext = ?, highestmodseq = ?,
		messages = ?, last_run = ?, clean_run = ? WHERE id = ?`,
		st.UIDValidity, st.UIDNext, st.HighestModSeq, st.Messages, run, run, st.ID)
	return err
}

// TouchFolders records that a run found these folders unchanged.
func (c *Catalog) TouchFolders(ctx context.Context, ids []int64, run int64) error {
	return c.eachID(ctx, `UPDATE folders SET last_run = ? WHERE id = ?`, ids, run)
}

// MarkFolderGone records that the server no longer has a folder; its
// messages are marked gone in the same run and stay in the archive.
func (c *Catalog) MarkFolderGone(ctx context.Context, id, run int64) (int, error) {
	var n int64
	err := c.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE folders SET gone_run = ? WHERE id = ?`, run, id); err != nil {
			return err
		}
		if err := forgetSynced(ctx, tx, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE messages SET gone_run = ? WHERE folder_id = ? AND gone_run IS NULL`, run, id)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// SetSpecialUse records the special-use attributes the server listed for
// folders, by name (see FolderState.SpecialUse). Folders the catalog does
// not hold are left out.
func (c *Catalog) SetSpecialUse(ctx context.Context, attrs map[string][]string) error {
	return c.tx(ctx, func(tx *sql.Tx) error {
		for name, use := range attrs {
			v := joinFlags(use)
			if _, err := tx.ExecContext(ctx, `UPDATE folders SET special_use = ? WHERE name = ? AND special_use != ?`,
				v, name, v); err != nil {
				return err
			}
		}
		return nil
	})
}
