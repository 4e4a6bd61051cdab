package archive

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// The staged table holds the rows of an encrypted archive's batch from
// just before its files are published until the rows are recorded. A crash
// in between leaves files without rows, and their staged rows tell the
// next run what the files hold (size, SHA-256, Message-ID: what adopting
// them would otherwise read by decrypting) and the SHA-256 each file was
// stored with, which shows that a file is complete. Readers never see it.

// stagedCols are the columns staged reads.
const stagedCols = `uidvalidity, uid, COALESCE(uidl, ''), key, file, sha256, size, vsize, internaldate, flags,
	message_id, file_sha256, COALESCE(gm_msgid, 0), gm_labels`

// stage records the rows of a batch about to be published, in one
// transaction.
func (c *Catalog) stage(ctx context.Context, msgs []Message) error {
	return c.tx(ctx, func(tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO staged (folder_id, uidvalidity, uid, uidl,
			key, file, sha256, size, vsize, internaldate, flags, message_id, file_sha256, gm_msgid, gm_labels)
			VALUES (?, ?, ?, NULLIF(?, ''), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		for _, m := range msgs {
			_, err := ins.ExecContext(ctx, m.FolderID, m.UIDValidity, m.UID, m.UIDL, m.Key, m.File, m.SHA256[:],
				m.Size, m.VSize, m.InternalDate.Format(time.RFC3339), joinFlags(m.Flags), m.MessageID, m.FileSHA256[:],
				gmailMsgIDValue(m.GmailMsgID), labelsValue(m.Labels))
			if err != nil {
				return fmt.Errorf("stage %s: %w", m.Key, err)
			}
		}
		return nil
	})
}

// unstageQuery removes the staged row of a message being recorded (by
// AddMessages, in the transaction that records it).
const unstageQuery = `DELETE FROM staged WHERE folder_id = ? AND key = ?`

// staged returns the staged rows of a folder by key.
func (c *Catalog) staged(ctx context.Context, folderID int64) (map[string]Message, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT `+stagedCols+` FROM staged WHERE folder_id = ?`, folderID)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	out := map[string]Message{}
	for rows.Next() {
		m := Message{FolderID: folderID}
		var sum, fsum []byte
		var date, flags string
		var msgID int64
		var labels sql.NullString
		if err := rows.Scan(&m.UIDValidity, &m.UID, &m.UIDL, &m.Key, &m.File, &sum, &m.Size, &m.VSize, &date,
			&flags, &m.MessageID, &fsum, &msgID, &labels); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		m.GmailMsgID, m.Labels = uint64(msgID), parseLabels(labels)
		copy(m.SHA256[:], sum)
		copy(m.FileSHA256[:], fsum)
		m.Flags = SplitFlags(flags)
		if m.InternalDate, err = time.Parse(time.RFC3339, date); err != nil {
			return nil, fmt.Errorf("catalog: staged %s: %w", m.Key, err)
		}
		out[m.Key] = m
	}
	return out, rows.Err()
}

// clearStaged removes a folder's staged rows once its orphans are
// adopted: the rest belong to files that were never published (their temp
// files are gone).
func (c *Catalog) clearStaged(ctx context.Context, folderID int64) error {
	return c.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM staged WHERE folder_id = ?`, folderID)
		return err
	})
}
