package archive

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"
)

// POP3Message is the catalog row of a message retrieved over POP3, with
// what POP3 backup needs beyond Message. Its UIDL is the identity under
// which backup recorded it (see backup.POP3), and its key was made from
// that identity by POP3Key when the file was written.
type POP3Message struct {
	Message
	Retrieved     time.Time // when the run that first stored it started; zero if unknown
	ServerDeleted int64     // the run whose QUIT deleted it from the server; 0 if none
}

// POP3Messages returns all of a folder's messages, gone ones included,
// with what POP3 backup works from: ID, FolderID, UIDL, Key, File, SHA256,
// Size, FirstRun, GoneRun and FileSHA256 of the Message (the others are zero), the
// start of the run that stored each, and its deletion from the server.
func (c *Catalog) POP3Messages(ctx context.Context, folderID int64) ([]POP3Message, error) {
	starts, err := c.runStarts(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := c.db.QueryContext(ctx, `SELECT id, COALESCE(uidl, ''), key, file, sha256, size, first_run,
		COALESCE(gone_run, 0), COALESCE(server_deleted_run, 0), file_sha256 FROM messages WHERE folder_id = ? ORDER BY id`, folderID)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []POP3Message
	for rows.Next() {
		m := POP3Message{Message: Message{FolderID: folderID}}
		var sum, fsum []byte
		if err := rows.Scan(&m.ID, &m.UIDL, &m.Key, &m.File, &sum, &m.Size, &m.FirstRun, &m.GoneRun,
			&m.ServerDeleted, &fsum); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		copy(m.SHA256[:], sum)
		copy(m.FileSHA256[:], fsum)
		m.Retrieved = startFrom(starts, m.FirstRun)
		out = append(out, m)
	}
	return out, rows.Err()
}

// runStarts returns when each run started, in id order; a time that does
// not parse is zero.
func (c *Catalog) runStarts(ctx context.Context) ([]runInfo, error) { return loadRuns(ctx, c.db) }

// startFrom returns when run id started. A run that a prune merged away
// (retention runs) counts as starting with the next run kept: the
// retrieval time of its messages moves later, never earlier, so
// delete_after_days deletes nothing sooner than it would have.
func startFrom(runs []runInfo, id int64) time.Time {
	i, _ := slices.BinarySearchFunc(runs, id, func(r runInfo, id int64) int { return cmp.Compare(r.id, id) })
	if i == len(runs) {
		return time.Time{}
	}
	return runs[i].started
}

// extraScanner scans the columns scanMessage reads, then extra ones.
type extraScanner struct {
	rows  *sql.Rows
	extra []any
}

func (s extraScanner) Scan(dest ...any) error { return s.rows.Scan(append(dest, s.extra...)...) }

// SetUIDL records a new POP3 identity for a message whose content the
// server now lists under another UIDL; the message keeps its key and file.
// It also records that the server has the message again.
func (c *Catalog) SetUIDL(ctx context.Context, id int64, uidl string, run int64) error {
	return c.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE messages SET uidl = ?, gone_run = NULL, last_run = ? WHERE id = ?`,
			uidl, run, id)
		return err
	})
}

// MarkPresent records that the server lists these messages again after
// they had gone.
func (c *Catalog) MarkPresent(ctx context.Context, ids []int64, run int64) error {
	return c.eachID(ctx, `UPDATE messages SET gone_run = NULL, last_run = ? WHERE id = ?`, ids, run)
}

// MarkServerDeleted records that the server answered +OK to the QUIT of
// run after these messages (by key) were marked for deletion: the server
// has deleted them, and the archive holds the only copy.
func (c *Catalog) MarkServerDeleted(ctx context.Context, folderID int64, keys []string, run int64) error {
	if len(keys) == 0 {
		return nil
	}
	return c.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE messages SET server_deleted_run = ? WHERE folder_id = ? AND key = ?`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, k := range keys {
			if _, err := st.ExecContext(ctx, run, folderID, k); err != nil {
				return err
			}
		}
		return nil
	})
}
