package archive

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
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

// UIDLChange is a new POP3 identity for a message whose content the
// server now lists under another UIDL.
type UIDLChange struct {
	ID   int64 // the message's row
	UIDL string
}

// SetUIDLs records new POP3 identities, in one transaction; each message
// keeps its key and file. It also records that the server has the
// messages again.
func (c *Catalog) SetUIDLs(ctx context.Context, changes []UIDLChange, run int64) error {
	if len(changes) == 0 {
		return nil
	}
	return c.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE messages SET uidl = ?, gone_run = NULL, last_run = ? WHERE id = ?`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, ch := range changes {
			if _, err := st.ExecContext(ctx, ch.UIDL, run, ch.ID); err != nil {
				return err
			}
		}
		return nil
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

// POP3Listing is what a POP3 run records of the maildrop it leaves on the
// server, once every message listed is archived: how many messages, and a
// digest of their identities in the server's order. The next run lists
// again; when the first Count identities it lists hash to Digest, those
// messages are archived and present, and only the ones after them need
// the catalog (see backup.POP3). Nothing else is needed to trust it: a
// later run, a repair that set a message aside, a rebuilt catalog or a
// prune that merged the run away each make it stale.
type POP3Listing struct {
	FolderID int64
	Run      int64 // the run that recorded it
	Count    int
	Digest   [32]byte
}

// metaPOP3Listing is the account_meta key of the POP3Listing.
const metaPOP3Listing = "pop3.listing"

func (l POP3Listing) value() string {
	return fmt.Sprintf("%d %d %d %s", l.FolderID, l.Run, l.Count, hex.EncodeToString(l.Digest[:]))
}

func parsePOP3Listing(v string) (POP3Listing, bool) {
	var l POP3Listing
	var digest string
	if n, err := fmt.Sscanf(v, "%d %d %d %s", &l.FolderID, &l.Run, &l.Count, &digest); n != 4 || err != nil {
		return l, false
	}
	b, err := hex.DecodeString(digest)
	if err != nil || len(b) != len(l.Digest) || l.Count < 0 {
		return l, false
	}
	copy(l.Digest[:], b)
	return l, true
}

// LastPOP3Listing returns the listing that the run before run recorded for
// the folder, if it can be trusted: that run ended ok and no other run
// came between (a run that fails or crashes may have added rows it did
// not record a listing for). ok is false otherwise.
func (c *Catalog) LastPOP3Listing(ctx context.Context, folderID, run int64) (POP3Listing, bool, error) {
	var v string
	err := c.db.QueryRowContext(ctx, `SELECT value FROM account_meta WHERE key = ?`, metaPOP3Listing).Scan(&v)
	if isNoRows(err) {
		return POP3Listing{}, false, nil
	}
	if err != nil {
		return POP3Listing{}, false, wrapCatalog(err)
	}
	l, ok := parsePOP3Listing(v)
	if !ok || l.FolderID != folderID {
		return POP3Listing{}, false, nil
	}
	var good bool
	err = c.db.QueryRowContext(ctx, `SELECT outcome = ? AND NOT EXISTS (SELECT 1 FROM runs WHERE id > ? AND id < ?)
		FROM runs WHERE id = ?`, OutcomeOK, l.Run, run, l.Run).Scan(&good)
	if isNoRows(err) {
		return POP3Listing{}, false, nil
	}
	return l, good, wrapCatalog(err)
}

// setPOP3Listing records l in tx, or forgets the listing when l is nil.
func setPOP3Listing(ctx context.Context, tx *sql.Tx, l *POP3Listing) error {
	if l == nil {
		_, err := tx.ExecContext(ctx, `DELETE FROM account_meta WHERE key = ?`, metaPOP3Listing)
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO account_meta (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, metaPOP3Listing, l.value())
	return err
}

// SetPOP3Listing records the listing a POP3 run leaves on the server, or
// forgets the last one when l is nil.
func (c *Catalog) SetPOP3Listing(ctx context.Context, l *POP3Listing) error {
	return c.tx(ctx, func(tx *sql.Tx) error { return setPOP3Listing(ctx, tx, l) })
}

// SetPOP3State is SetFolderState for a POP3 folder, recording in the same
// transaction the listing the run leaves, or forgetting the last one (l
// nil).
func (c *Catalog) SetPOP3State(ctx context.Context, st FolderState, l *POP3Listing, run int64) error {
	return c.tx(ctx, func(tx *sql.Tx) error {
		if err := setFolderState(ctx, tx, st, run); err != nil {
			return err
		}
		return setPOP3Listing(ctx, tx, l)
	})
}

// pop3Cols are the columns of POP3Messages; the last is the start of the
// first run kept at or after the message's first run (see startFrom).
const pop3Cols = `id, COALESCE(uidl, ''), key, file, sha256, size, first_run, COALESCE(gone_run, 0),
	COALESCE(server_deleted_run, 0),
	COALESCE((SELECT started FROM runs r WHERE r.id >= messages.first_run ORDER BY r.id LIMIT 1), '')`

// queryPOP3 returns the rows of a query that selects pop3Cols.
func (c *Catalog) queryPOP3(ctx context.Context, folderID int64, where string, args ...any) ([]POP3Message, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT `+pop3Cols+` FROM messages WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []POP3Message
	for rows.Next() {
		m := POP3Message{Message: Message{FolderID: folderID}}
		var sum []byte
		var started string
		if err := rows.Scan(&m.ID, &m.UIDL, &m.Key, &m.File, &sum, &m.Size, &m.FirstRun, &m.GoneRun,
			&m.ServerDeleted, &started); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		copy(m.SHA256[:], sum)
		m.Retrieved, _ = time.Parse(timeLayout, started)
		out = append(out, m)
	}
	return out, rows.Err()
}

// POP3ByIdentity returns the folder's rows recorded under any of ids,
// gone ones included, as POP3Messages gives them. It reads those rows
// alone (index messages_uidl).
func (c *Catalog) POP3ByIdentity(ctx context.Context, folderID int64, ids []string) ([]POP3Message, error) {
	var out []POP3Message
	for chunk := range slices.Chunk(ids, uidQueryChunk) {
		args := []any{folderID}
		for _, id := range chunk {
			args = append(args, id)
		}
		ms, err := c.queryPOP3(ctx, folderID, `folder_id = ? AND uidl IN (?`+strings.Repeat(",?", len(chunk)-1)+`)`, args...)
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
	}
	return out, nil
}

// POP3BySHA256 returns the folder's rows whose message has this SHA-256,
// gone ones included, as POP3Messages gives them.
func (c *Catalog) POP3BySHA256(ctx context.Context, folderID int64, sum [32]byte) ([]POP3Message, error) {
	return c.queryPOP3(ctx, folderID, `folder_id = ? AND sha256 = ? ORDER BY id`, folderID, sum[:])
}

// MarkDeletedGone records as gone in run the folder's messages that the
// QUIT of deletedRun deleted from the server and that are not marked gone
// yet: the listing of run does not have them. It returns how many.
func (c *Catalog) MarkDeletedGone(ctx context.Context, folderID, deletedRun, run int64) (int, error) {
	var n int64
	err := c.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE messages SET gone_run = ? WHERE folder_id = ?
			AND server_deleted_run = ? AND gone_run IS NULL`, run, folderID, deletedRun)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
