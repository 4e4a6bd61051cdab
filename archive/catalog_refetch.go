package archive

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Refetch is a message whose damaged or missing copy verify --repair set
// aside while the server still had it: the next backup of its folder
// fetches it again.
type Refetch struct {
	FolderID int64
	Key      string
	Detail   string
	Since    time.Time
}

// serverHas reports whether the server had message id at the last look:
// not gone, and not deleted from the server by POP3.
func (c *Catalog) serverHas(ctx context.Context, id int64) (bool, error) {
	var has bool
	err := c.db.QueryRowContext(ctx, `SELECT gone_run IS NULL AND server_deleted_run IS NULL FROM messages
		WHERE id = ?`, id).Scan(&has)
	return has, wrapCatalog(err)
}

// setAside forgets the row of a message whose copy is lost, records it to
// be fetched again, and clears its folder's sync state, so that the next
// backup opens the folder even when the server says nothing changed, and
// finds the message missing. One transaction.
func (c *Catalog) setAside(ctx context.Context, m Message, detail string, now time.Time) error {
	return c.tx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{`DELETE FROM flag_history WHERE message = ?`, `DELETE FROM messages WHERE id = ?`} {
			if _, err := tx.ExecContext(ctx, q, m.ID); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO refetch (folder_id, key, detail, since)
			VALUES (?, ?, ?, ?)`, m.FolderID, m.Key, detail, now.UTC().Format(timeLayout)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE folders SET uidnext = 0, highestmodseq = 0, messages = 0
			WHERE id = ?`, m.FolderID); err != nil {
			return err
		}
		if err := forgetSynced(ctx, tx, m.FolderID); err != nil {
			return err
		}
		// A POP3 run must not take the message for archived.
		return setPOP3Listing(ctx, tx, nil)
	})
}

// Refetches returns the messages of a folder still to be fetched again.
func (c *Catalog) Refetches(ctx context.Context, folderID int64) ([]Refetch, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT folder_id, key, detail, since FROM refetch
		WHERE folder_id = ? ORDER BY key`, folderID)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []Refetch
	for rows.Next() {
		var r Refetch
		var since string
		if err := rows.Scan(&r.FolderID, &r.Key, &r.Detail, &since); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		r.Since, _ = time.Parse(timeLayout, since)
		out = append(out, r)
	}
	return out, rows.Err()
}

// ClearRefetched forgets the refetch records of a folder whose messages
// the archive holds again.
func (c *Catalog) ClearRefetched(ctx context.Context, folderID int64) error {
	return c.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM refetch WHERE folder_id = ? AND EXISTS
			(SELECT 1 FROM messages m WHERE m.folder_id = refetch.folder_id AND m.key = refetch.key)`, folderID)
		return err
	})
}
