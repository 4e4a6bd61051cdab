package archive

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// gmailSchema is the first schema with the content index and Gmail's
// columns of messages: gm_msgid (X-GM-MSGID) and gm_labels (X-GM-LABELS,
// a JSON array of strings). The migration is migrations[gmailSchema-1]
// and new catalogs run the same statements, so renumbering it (when
// another migration lands first) means changing this constant alone.
const gmailSchema = 7

// contentColumns are schema gmailSchema's statements. messages_content
// finds the rows of a content across folders (messages_sha starts with the
// folder), messages_gm_msgid the rows of a Gmail message. A staged row
// (encrypted archives, see catalog_staged.go) carries the Gmail columns
// too, so that a message adopted from it keeps them.
const contentColumns = `ALTER TABLE messages ADD COLUMN gm_msgid INTEGER;
ALTER TABLE messages ADD COLUMN gm_labels TEXT;
ALTER TABLE staged ADD COLUMN gm_msgid INTEGER;
ALTER TABLE staged ADD COLUMN gm_labels TEXT;
CREATE INDEX messages_content ON messages (sha256);
CREATE INDEX messages_gm_msgid ON messages (gm_msgid) WHERE gm_msgid IS NOT NULL`

// gmailMsgIDValue is the column value of an X-GM-MSGID: SQLite integers
// are signed, so the 64 bits are stored as they are; 0 is NULL.
func gmailMsgIDValue(id uint64) any {
	if id == 0 {
		return nil
	}
	return int64(id)
}

// labelsValue is the column value of a label list: NULL when the server
// gave none (no X-GM-EXT-1), else a JSON array.
func labelsValue(labels []string) any {
	if labels == nil {
		return nil
	}
	data, _ := json.Marshal(labels)
	return string(data)
}

func parseLabels(s sql.NullString) []string {
	if !s.Valid {
		return nil
	}
	var out []string
	if json.Unmarshal([]byte(s.String), &out) != nil || out == nil {
		return []string{}
	}
	return out
}

// Content is an archived message file whose content a new row may share
// (through a hard link, see Folder.StageLink): one row that has it, and
// the directory of its folder.
type Content struct {
	Message
	Dir string // the folder's directory under mail/, as FolderState.Dir
}

const contentCols = `m.id, m.folder_id, m.uidvalidity, m.uid, COALESCE(m.uidl, ''), m.key, m.file, m.sha256,
	m.size, m.vsize, m.internaldate, m.flags, m.message_id, m.first_run, m.last_run, COALESCE(m.gone_run, 0),
	COALESCE(m.gm_msgid, 0), f.dir, m.file_sha256`

// contentLimit bounds the rows a content lookup returns: they are
// candidates for one link, and any one whose file is there will do.
const contentLimit = 8

// ContentBySHA256 returns rows of any folder whose content has the
// SHA-256 sum, oldest first.
func (c *Catalog) ContentBySHA256(ctx context.Context, sum [32]byte) ([]Content, error) {
	return c.queryContent(ctx, `m.sha256 = ?`, sum[:])
}

// ContentByGmailMsgID returns rows of any folder whose X-GM-MSGID is id,
// oldest first.
func (c *Catalog) ContentByGmailMsgID(ctx context.Context, id uint64) ([]Content, error) {
	return c.queryContent(ctx, `m.gm_msgid = ?`, int64(id))
}

func (c *Catalog) queryContent(ctx context.Context, where string, arg any) ([]Content, error) {
	rows, err := c.queryPrepared(ctx, `SELECT `+contentCols+` FROM messages m JOIN folders f ON f.id = m.folder_id
		WHERE `+where+` ORDER BY m.id LIMIT ?`, arg, contentLimit)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []Content
	for rows.Next() {
		var ct Content
		var msgID int64
		var fileSum []byte
		m, err := scanMessage(extraScanner{rows, []any{&msgID, &ct.Dir, &fileSum}})
		if err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		copy(m.FileSHA256[:], fileSum)
		ct.Message, ct.GmailMsgID = m, uint64(msgID)
		out = append(out, ct)
	}
	return out, rows.Err()
}

// SetLabels records the X-GM-LABELS of messages (by row id) that a sync
// found changed.
func (c *Catalog) SetLabels(ctx context.Context, labels map[int64][]string) error {
	if len(labels) == 0 {
		return nil
	}
	return c.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE messages SET gm_labels = ? WHERE id = ?`)
		if err != nil {
			return err
		}
		defer st.Close()
		for id, l := range labels {
			if _, err := st.ExecContext(ctx, labelsValue(l), id); err != nil {
				return err
			}
		}
		return nil
	})
}

// Labels returns the X-GM-LABELS the catalog holds for messages of a
// folder, by UID under uidValidity, for the UIDs given.
func (c *Catalog) Labels(ctx context.Context, folderID int64, uidValidity uint32, uids []uint32) (map[uint32]LabelRow, error) {
	out := map[uint32]LabelRow{}
	for i := 0; i < len(uids); i += 500 {
		chunk := uids[i:min(i+500, len(uids))]
		args := []any{folderID, uidValidity}
		for _, u := range chunk {
			args = append(args, u)
		}
		rows, err := c.db.QueryContext(ctx, `SELECT id, uid, gm_labels FROM messages
			WHERE folder_id = ? AND uidvalidity = ? AND gone_run IS NULL AND uid IN (`+marks(len(chunk))+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		for rows.Next() {
			var r LabelRow
			var uid uint32
			var l sql.NullString
			if err := rows.Scan(&r.ID, &uid, &l); err != nil {
				rows.Close()
				return nil, fmt.Errorf("catalog: %w", err)
			}
			r.Labels = parseLabels(l)
			out[uid] = r
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
	}
	return out, nil
}

// LabelRow is a message's row id and the labels the catalog holds for it
// (nil: none recorded).
type LabelRow struct {
	ID     int64
	Labels []string
}

func marks(n int) string {
	b := make([]byte, 0, 3*n)
	for i := range n {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, '?')
	}
	return string(b)
}

// EncodeLabel spells a folder name as a label in X-GM-LABELS: in modified
// UTF-7, as mailbox names are, and as Gmail gives labels.
func EncodeLabel(name string) string { return encodeMUTF7(name) }

// Gmail is what a backup of a server with X-GM-EXT-1 recorded of one
// message.
type Gmail struct {
	MsgID  uint64
	Labels []string // nil when none were recorded
}

// Gmail returns, by message row id, the Gmail data the catalog holds for
// the messages of a folder: none for messages without any, and none at
// all for a catalog older than the schema that records them.
func (s *Snapshot) Gmail(ctx context.Context, folderID int64) (map[int64]Gmail, error) {
	out := map[int64]Gmail{}
	err := s.EachGmail(ctx, folderID, func(id int64, g Gmail) error {
		out[id] = g
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// EachGmail hands fn what Gmail returns, one message at a time, from one
// query: memory holds one row. fn must not use the Snapshot; an error it
// returns ends the reading and is returned.
func (s *Snapshot) EachGmail(ctx context.Context, folderID int64, fn func(id int64, g Gmail) error) error {
	if s.cat.version < gmailSchema {
		return nil
	}
	rows, err := s.cat.db.QueryContext(ctx, `SELECT id, COALESCE(gm_msgid, 0), gm_labels FROM messages
		WHERE folder_id = ? AND (gm_msgid IS NOT NULL OR gm_labels IS NOT NULL)`, folderID)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, msgID int64
		var l sql.NullString
		if err := rows.Scan(&id, &msgID, &l); err != nil {
			return fmt.Errorf("catalog: %w", err)
		}
		if err := fn(id, Gmail{MsgID: uint64(msgID), Labels: parseLabels(l)}); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	return nil
}

// Keys of account_meta for a server's throttling.
const (
	metaThrottleUntil  = "throttle.until"
	metaThrottleReason = "throttle.reason"
)

// Throttle is a server's request to come back later, as the last run that
// met it recorded: no attempt before Until.
type Throttle struct {
	Until  time.Time
	Reason string // the server's reply
}

// SetThrottle records that the server throttled the account until
// t.Until; the zero Throttle clears the record. A backup writes it with
// its run's outcome.
func (c *Catalog) SetThrottle(ctx context.Context, t Throttle) error {
	return c.tx(ctx, func(tx *sql.Tx) error {
		if t.Until.IsZero() {
			_, err := tx.ExecContext(ctx, `DELETE FROM account_meta WHERE key IN (?, ?)`, metaThrottleUntil, metaThrottleReason)
			return err
		}
		for k, v := range map[string]string{metaThrottleUntil: t.Until.UTC().Format(timeLayout), metaThrottleReason: t.Reason} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO account_meta (key, value) VALUES (?, ?)
				ON CONFLICT (key) DO UPDATE SET value = excluded.value`, k, v); err != nil {
				return err
			}
		}
		return nil
	})
}

// UpdateThrottle records t as SetThrottle does, unless the catalog holds
// it already: a run that was not throttled then writes nothing.
func (c *Catalog) UpdateThrottle(ctx context.Context, t Throttle) error {
	cur, err := c.throttle(ctx)
	if err != nil {
		return err
	}
	if cur.Until.Equal(t.Until) && cur.Reason == t.Reason {
		return nil
	}
	return c.SetThrottle(ctx, t)
}

// Throttle returns the throttling the last run recorded; the zero
// Throttle when there is none.
func (s *Snapshot) Throttle(ctx context.Context) (Throttle, error) {
	if s.cat.version < listingSchema {
		return Throttle{}, nil
	}
	return s.cat.throttle(ctx)
}

func (c *Catalog) throttle(ctx context.Context) (Throttle, error) {
	var t Throttle
	rows, err := c.db.QueryContext(ctx, `SELECT key, value FROM account_meta WHERE key IN (?, ?)`,
		metaThrottleUntil, metaThrottleReason)
	if err != nil {
		return t, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return t, fmt.Errorf("catalog: %w", err)
		}
		if k == metaThrottleUntil {
			t.Until, _ = time.Parse(timeLayout, v)
		} else {
			t.Reason = v
		}
	}
	return t, rows.Err()
}
