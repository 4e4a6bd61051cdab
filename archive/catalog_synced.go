package archive

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
)

// IMAPSynced is what an IMAP sync certifies of a folder when it leaves
// nothing behind: every message the server had under UIDValidity with a
// UID below UIDNext is archived and present in the catalog, and there
// were Count of them. The next sync of the folder lists only the UIDs
// from UIDNext on, and reads only their rows, when the server's message
// count shows that none of the Count has gone since (UIDs below UIDNEXT
// are never given out again, so they can only go): see backup's tail
// sync.
//
// It is kept in account_meta beside the folder's state, written in the
// same transaction, and holds only while that state does: a sync that
// cannot certify, a UIDVALIDITY retired, UIDs marked gone (by a sync that
// may yet fail), a repair that sets a message aside, a folder recorded
// gone, a prune and a POP3 run of the folder each forget it.
type IMAPSynced struct {
	UIDValidity, UIDNext, Count uint32
}

// syncedKey is the account_meta key of a folder's IMAPSynced.
func syncedKey(folderID int64) string { return "imap.synced." + strconv.FormatInt(folderID, 10) }

// syncedKeys matches every folder's key (LIKE).
const syncedKeys = "imap.synced.%"

func (s IMAPSynced) value() string {
	return fmt.Sprintf("%d %d %d", s.UIDValidity, s.UIDNext, s.Count)
}

func parseIMAPSynced(v string) (IMAPSynced, bool) {
	var s IMAPSynced
	n, err := fmt.Sscanf(v, "%d %d %d", &s.UIDValidity, &s.UIDNext, &s.Count)
	return s, n == 3 && err == nil && s.UIDNext > 0
}

// Synced returns what the last sync of an IMAP folder certified, if it
// still holds for the folder's state st (the same UIDVALIDITY and
// UIDNEXT). ok is false when there is nothing to trust.
func (c *Catalog) Synced(ctx context.Context, st FolderState) (IMAPSynced, bool, error) {
	var v string
	err := c.db.QueryRowContext(ctx, `SELECT value FROM account_meta WHERE key = ?`, syncedKey(st.ID)).Scan(&v)
	if isNoRows(err) {
		return IMAPSynced{}, false, nil
	}
	if err != nil {
		return IMAPSynced{}, false, wrapCatalog(err)
	}
	s, ok := parseIMAPSynced(v)
	if !ok || s.UIDValidity != st.UIDValidity || s.UIDNext != st.UIDNext {
		return IMAPSynced{}, false, nil
	}
	return s, true, nil
}

// SetSyncedState is SetFolderState for an IMAP folder, recording in the
// same transaction what the sync certifies (s), or forgetting what an
// earlier one did (s nil).
func (c *Catalog) SetSyncedState(ctx context.Context, st FolderState, s *IMAPSynced, run int64) error {
	return c.tx(ctx, func(tx *sql.Tx) error {
		if err := setFolderState(ctx, tx, st, run); err != nil {
			return err
		}
		if s == nil {
			return forgetSynced(ctx, tx, st.ID)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO account_meta (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, syncedKey(st.ID), s.value())
		return err
	})
}

// ForgetSynced drops a folder's IMAPSynced, if it has one. A POP3 run of
// the folder calls it first: its gone marks and state are not the IMAP
// sync's. Without one, nothing is written.
func (c *Catalog) ForgetSynced(ctx context.Context, folderID int64) error {
	var n int
	err := c.db.QueryRowContext(ctx, `SELECT count(*) FROM account_meta WHERE key = ?`, syncedKey(folderID)).Scan(&n)
	if err != nil || n == 0 {
		return wrapCatalog(err)
	}
	return c.tx(ctx, func(tx *sql.Tx) error { return forgetSynced(ctx, tx, folderID) })
}

// forgetSynced drops a folder's IMAPSynced in tx.
func forgetSynced(ctx context.Context, tx *sql.Tx, folderID int64) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM account_meta WHERE key = ?`, syncedKey(folderID))
	return err
}

// forgetAllSynced drops every folder's IMAPSynced in tx.
func forgetAllSynced(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM account_meta WHERE key LIKE ?`, syncedKeys)
	return err
}

// UIDsFrom is UIDs limited to the UIDs from uid on: the messages_uid
// index gives them without reading the folder's other entries.
func (c *Catalog) UIDsFrom(ctx context.Context, folderID int64, uidValidity, uid uint32) ([]UIDEntry, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT uid, gone_run IS NOT NULL FROM messages
		WHERE folder_id = ? AND uidvalidity = ? AND uid >= ? ORDER BY uid`, folderID, uidValidity, uid)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []UIDEntry
	for rows.Next() {
		var e UIDEntry
		if err := rows.Scan(&e.UID, &e.Gone); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
