package archive

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/mailkeep/mailkeep/internal/sqlitefile"
)

// The queries of this file let an incremental sync read what it needs of
// a folder's catalog in time proportional to what changed, not to the
// folder's size: the UIDs come from the messages_uid index alone, and
// full rows only for the messages whose flags the server reports.

// UIDEntry is one message the catalog holds under a folder's UIDVALIDITY.
type UIDEntry struct {
	UID  uint32
	Gone bool // the server no longer had it at an earlier run
}

// UIDs returns the UIDs the catalog holds for a folder under one
// UIDVALIDITY, gone ones included, in ascending order.
func (c *Catalog) UIDs(ctx context.Context, folderID int64, uidValidity uint32) ([]UIDEntry, error) {
	return c.UIDsFrom(ctx, folderID, uidValidity, 0)
}

// FindUID returns where uid is, or would be, in known (ascending), and
// whether it is there.
func FindUID(known []UIDEntry, uid uint32) (int, bool) {
	return slices.BinarySearchFunc(known, uid, func(e UIDEntry, u uint32) int { return cmp.Compare(e.UID, u) })
}

// InsertUID returns known with uid added as present, in order.
func InsertUID(known []UIDEntry, uid uint32) []UIDEntry {
	i, found := FindUID(known, uid)
	if found {
		known[i].Gone = false
		return known
	}
	return slices.Insert(known, i, UIDEntry{UID: uid})
}

// RetireValidity marks gone the messages of a folder still present under
// another UIDVALIDITY than uidValidity, and returns how many it marked and
// whether the folder holds any message of another UIDVALIDITY at all.
func (c *Catalog) RetireValidity(ctx context.Context, folderID int64, uidValidity uint32, run int64) (int, bool, error) {
	var other bool
	// Two ranges of the messages_uid index: "!=" would walk the folder's
	// every entry of the current UIDVALIDITY.
	err := c.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM messages
		WHERE folder_id = ?1 AND uidvalidity < ?2) OR EXISTS (SELECT 1 FROM messages
		WHERE folder_id = ?1 AND uidvalidity > ?2)`, folderID, uidValidity).Scan(&other)
	if err != nil || !other {
		return 0, false, wrapCatalog(err)
	}
	var n int64
	err = c.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE messages SET gone_run = ?
			WHERE folder_id = ? AND uidvalidity != ? AND gone_run IS NULL`, run, folderID, uidValidity)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		// A run that fails after this must not leave a certificate
		// counting the rows it retired.
		return forgetSynced(ctx, tx, folderID)
	})
	return int(n), true, err
}

// HasGone reports whether a folder holds messages the server no longer
// had at an earlier run.
func (c *Catalog) HasGone(ctx context.Context, folderID int64) (bool, error) {
	var gone bool
	err := c.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM messages
		WHERE folder_id = ? AND gone_run IS NOT NULL)`, folderID).Scan(&gone)
	return gone, wrapCatalog(err)
}

// MarkGoneUIDs records that the server no longer has these messages of a
// folder's UIDVALIDITY. It forgets the folder's IMAPSynced in the same
// transaction: a sync that fails after it must not leave a certificate
// that counts a row it marked gone (the sync that completes certifies
// anew).
func (c *Catalog) MarkGoneUIDs(ctx context.Context, folderID int64, uidValidity uint32, uids []uint32, run int64) error {
	if len(uids) == 0 {
		return nil
	}
	return c.tx(ctx, func(tx *sql.Tx) error {
		if err := forgetSynced(ctx, tx, folderID); err != nil {
			return err
		}
		st, err := tx.PrepareContext(ctx, `UPDATE messages SET gone_run = ?
			WHERE folder_id = ? AND uidvalidity = ? AND uid = ? AND gone_run IS NULL`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, uid := range uids {
			if _, err := st.ExecContext(ctx, run, folderID, uidValidity, uid); err != nil {
				return err
			}
		}
		return nil
	})
}

// MarkPresentUIDs records that the server lists these messages of a
// folder's UIDVALIDITY again after they had gone.
func (c *Catalog) MarkPresentUIDs(ctx context.Context, folderID int64, uidValidity uint32, uids []uint32, run int64) error {
	if len(uids) == 0 {
		return nil
	}
	return c.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE messages SET gone_run = NULL, last_run = ?
			WHERE folder_id = ? AND uidvalidity = ? AND uid = ? AND gone_run IS NOT NULL`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, uid := range uids {
			if _, err := st.ExecContext(ctx, run, folderID, uidValidity, uid); err != nil {
				return err
			}
		}
		return nil
	})
}

// uidQueryChunk bounds the UIDs of one PresentByUID query.
const uidQueryChunk = 500

// PresentByUID returns the messages of a folder's UIDVALIDITY that the
// server still had at the last look, for the given UIDs, keyed by UID.
// The rows carry the fields of indexCols; the others are zero.
func (c *Catalog) PresentByUID(ctx context.Context, folderID int64, uidValidity uint32, uids []uint32) (map[uint32]Message, error) {
	out := make(map[uint32]Message, len(uids))
	for start := 0; start < len(uids); start += uidQueryChunk {
		chunk := uids[start:min(start+uidQueryChunk, len(uids))]
		args := []any{folderID, uidValidity}
		for _, uid := range chunk {
			args = append(args, uid)
		}
		rows, err := c.db.QueryContext(ctx, `SELECT `+indexCols+` FROM messages
			WHERE folder_id = ? AND uidvalidity = ? AND gone_run IS NULL
			AND uid IN (?`+strings.Repeat(",?", len(chunk)-1)+`)`, args...)
		ms, err := collectIndex(rows, err, folderID)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			out[m.UID] = m
		}
	}
	return out, nil
}

// MayHaveOrphans reports whether the folder may hold message files
// without a catalog row, which only a run that ended failed or interrupted
// (a crash counts as interrupted) can leave: true when such a run came
// after the folder's clean run, the last run that synced the folder to the
// end, or when no run ever did. run is the current run.
func (c *Catalog) MayHaveOrphans(ctx context.Context, folderID, run int64) (bool, error) {
	var may bool
	err := c.db.QueryRowContext(ctx, `SELECT f.clean_run = 0 OR EXISTS (SELECT 1 FROM runs r
		WHERE r.id > f.clean_run AND r.id < ? AND r.outcome IN (?, ?))
		FROM folders f WHERE f.id = ?`, run, OutcomeFailed, OutcomeInterrupted, folderID).Scan(&may)
	return may, wrapCatalog(err)
}

// Keys returns the keys of all of a folder's messages, gone ones included.
func (c *Catalog) Keys(ctx context.Context, folderID int64) (map[string]bool, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT key FROM messages WHERE folder_id = ?`, folderID)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		out[k] = true
	}
	return out, rows.Err()
}

func wrapCatalog(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("catalog: %w", sqlitefile.Err(err))
}
