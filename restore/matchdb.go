package restore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
	_ "modernc.org/sqlite" // the SQLite driver

	"github.com/mailkeep/mailkeep/archive"
)

// matchDB holds a folder's list while it is restored, and works out its
// identity match (see match.go), on disk: in a private temporary SQLite
// database that SQLite deletes when it is closed (also when the process
// dies: the file is unlinked as it is opened). Memory stays within
// SQLite's page cache however many messages the folder or the target
// holds. One connection, one folder at a time.
type matchDB struct{ db *sql.DB }

// matchCache bounds the page cache of a matchDB (KiB); more spills to the
// temporary file.
const matchCache = 1 << 10

// matchPage is how many rows one page of a hash pass reads.
const matchPage = hashChunk

// archiveSchema holds a folder's list: its messages in the order of the
// restore, filled once per folder.
const archiveSchema = `
DROP TABLE IF EXISTS a;
CREATE TABLE a (                    -- the archive's messages of the folder
	i     INTEGER PRIMARY KEY,      -- place in the folder's list
	row   INTEGER NOT NULL,         -- catalog row
	id    TEXT NOT NULL,            -- Message-ID, '' if none
	vsize INTEGER NOT NULL,         -- size with CRLF line ends
	size  INTEGER NOT NULL,         -- raw size
	state INTEGER NOT NULL DEFAULT 0, -- 0 missing, 1 present, 2 to compare by content
	at    INTEGER NOT NULL DEFAULT 0  -- present: the target UID it is
);`

// heldSchema holds what the target folder holds, filled at each attempt;
// it also clears the match of the attempt before.
const heldSchema = `
DROP TABLE IF EXISTS h;
CREATE TABLE h (                    -- the target folder's messages
	uid    INTEGER PRIMARY KEY,
	id     TEXT NOT NULL,
	size   INTEGER NOT NULL,
	kv     INTEGER,                 -- the archive key (id, kv) it counts for, if any
	padded INTEGER NOT NULL DEFAULT 0, -- it counts for kv only as kv + 2
	hashed INTEGER NOT NULL DEFAULT 0, -- to compare by content
	sum    BLOB,                    -- its content hash, once fetched
	used   INTEGER NOT NULL DEFAULT 0  -- taken by an archive message
);
DROP INDEX IF EXISTS a_key;
DROP INDEX IF EXISTS a_raw;
UPDATE a SET state = 0, at = 0 WHERE state != 0 OR at != 0;`

// matchSteps decide everything but the comparison by content, in the order
// of the rules of match.go.
var matchSteps = []string{
	`CREATE INDEX a_key ON a(id, vsize)`,
	`CREATE INDEX a_raw ON a(id, size) WHERE size != vsize`,
	`CREATE INDEX h_size ON h(size)`,
	// A target message counts for the archive key (ID, CRLF size), else
	// (ID, raw size), else (ID, CRLF size + 2): padded. An alias or padded
	// size shared by several keys names the last archive message's.
	`UPDATE h SET kv = CASE
		WHEN EXISTS (SELECT 1 FROM a WHERE a.id = h.id AND a.vsize = h.size) THEN h.size
		ELSE COALESCE(
			(SELECT a.vsize FROM a WHERE a.id = h.id AND a.size = h.size AND a.size != a.vsize ORDER BY a.i DESC LIMIT 1),
			(SELECT a.vsize FROM a WHERE a.id = h.id AND a.vsize = h.size - 2 ORDER BY a.i DESC LIMIT 1))
		END WHERE h.id != ''`,
	`UPDATE h SET padded = 1 WHERE kv IS NOT NULL AND kv != size
		AND NOT EXISTS (SELECT 1 FROM a WHERE a.id = h.id AND a.size = h.size AND a.size != a.vsize)`,
	// Archive messages without a Message-ID: every target message of their
	// sizes is compared by content.
	`UPDATE h SET hashed = 1 WHERE size IN (SELECT vsize FROM a WHERE id = ''
		UNION SELECT vsize + 2 FROM a WHERE id = '' UNION SELECT size FROM a WHERE id = '')`,
	`UPDATE a SET state = 2 WHERE id = '' AND EXISTS (SELECT 1 FROM h WHERE h.size IN (a.vsize, a.vsize + 2, a.size))`,
	// Keys: one archive message and one target message, which no other
	// rule compares by content, are the same; the other keys with target
	// messages are compared by content.
	`CREATE INDEX h_key ON h(id, kv) WHERE kv IS NOT NULL`,
	`UPDATE a SET state = 1, at = h.uid FROM h
		WHERE h.id = a.id AND h.kv = a.vsize AND h.hashed = 0 AND h.padded = 0 AND a.id != ''
		AND NOT EXISTS (SELECT 1 FROM h o WHERE o.id = h.id AND o.kv = h.kv AND o.uid != h.uid)
		AND NOT EXISTS (SELECT 1 FROM a b WHERE b.id = a.id AND b.vsize = a.vsize AND b.i != a.i)`,
	`UPDATE a SET state = 2 WHERE a.id != '' AND a.state = 0
		AND EXISTS (SELECT 1 FROM h WHERE h.id = a.id AND h.kv = a.vsize)`,
	`UPDATE h SET hashed = 1 FROM (SELECT DISTINCT id, vsize FROM a WHERE id != '' AND state = 2) v
		WHERE h.id = v.id AND h.kv = v.vsize AND h.hashed = 0`,
}

// openMatchDB opens an empty matchDB.
func openMatchDB(ctx context.Context) (*matchDB, error) {
	db, err := sql.Open("sqlite", "")
	if err != nil {
		return nil, fmt.Errorf("match database: %w", err)
	}
	db.SetMaxOpenConns(1)
	d := &matchDB{db: db}
	_, err = db.ExecContext(ctx, fmt.Sprintf(`PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
		PRAGMA temp_store = FILE; PRAGMA cache_size = -%d`, matchCache))
	if err == nil {
		err = d.reset(ctx)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("match database: %w", err)
	}
	return d, nil
}

func (d *matchDB) Close() error { return d.db.Close() }

// reset empties d for another folder.
func (d *matchDB) reset(ctx context.Context) error {
	if _, err := d.db.ExecContext(ctx, archiveSchema+heldSchema+labelSchema); err != nil {
		return fmt.Errorf("match database: %w", err)
	}
	return nil
}

// resetHeld empties the target's side and the match, for another attempt
// at the same folder.
func (d *matchDB) resetHeld(ctx context.Context) error {
	if _, err := d.db.ExecContext(ctx, heldSchema); err != nil {
		return fmt.Errorf("match database: %w", err)
	}
	return nil
}

// addArchive adds the archive messages that each hands to add, with their
// place in the folder's list.
func (d *matchDB) addArchive(ctx context.Context, each func(add func(i int, m archive.Identity) error) error) error {
	return d.fill(ctx, `INSERT INTO a (i, row, id, vsize, size) VALUES `, 5, func(add func(...any) error) error {
		return each(func(i int, m archive.Identity) error { return add(i, m.ID, m.MessageID, m.VSize, m.Size) })
	})
}

// addHeld adds the target messages that each hands to add, and returns
// how many it added. A UID handed twice counts once, as its last.
func (d *matchDB) addHeld(ctx context.Context, each func(add func(held) error) error) (int, error) {
	n := 0
	err := d.fill(ctx, `INSERT OR REPLACE INTO h (uid, id, size) VALUES `, 3, func(add func(...any) error) error {
		return each(func(h held) error {
			n++
			return add(int64(h.uid), h.id, h.size)
		})
	})
	return n, err
}

// fillBatch is how many rows one INSERT of fill adds.
const fillBatch = 128

// fill adds the rows fn hands to add with insert (which ends with
// "VALUES "), cols values a row, in one transaction, fillBatch rows a
// statement: one statement a row would cost more than SQLite's work.
func (d *matchDB) fill(ctx context.Context, insert string, cols int, fn func(add func(...any) error) error) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("match database: %w", err)
	}
	defer tx.Rollback()
	row := "(" + strings.Repeat("?, ", cols-1) + "?)"
	full, err := tx.PrepareContext(ctx, insert+strings.Repeat(row+", ", fillBatch-1)+row)
	if err != nil {
		return fmt.Errorf("match database: %w", err)
	}
	defer full.Close()
	args := make([]any, 0, fillBatch*cols)
	flush := func(st *sql.Stmt) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Without ctx: the driver would watch it from a goroutine per statement.
		if _, err := st.ExecContext(context.Background(), args...); err != nil {
			return fmt.Errorf("match database: %w", err)
		}
		args = args[:0]
		return nil
	}
	err = fn(func(vals ...any) error {
		args = append(args, vals...)
		if len(args) < cap(args) {
			return nil
		}
		return flush(full)
	})
	if err == nil && len(args) > 0 {
		n := len(args) / cols
		_, err = tx.ExecContext(ctx, insert+strings.Repeat(row+", ", n-1)+row, args...)
	}
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("match database: %w", err)
	}
	return nil
}

// resolve decides which archive messages the target holds: by the rules,
// then by content, fetching the target's candidates with hashTarget and
// hashing the archive's with hashArchive (given the place and catalog row).
func (d *matchDB) resolve(ctx context.Context,
	hashTarget func([]imap.UID) (map[imap.UID][32]byte, error),
	hashArchive func(i int, row int64) ([32]byte, error)) error {
	for _, q := range matchSteps {
		if _, err := d.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("match database: %w", err)
		}
	}
	if err := d.hashHeld(ctx, hashTarget); err != nil {
		return err
	}
	return d.byContent(ctx, hashArchive)
}

// hashHeld records the content hash of every target message to compare.
func (d *matchDB) hashHeld(ctx context.Context, hashTarget func([]imap.UID) (map[imap.UID][32]byte, error)) error {
	var last int64
	for {
		uids, err := d.page(ctx, `SELECT uid FROM h WHERE hashed = 1 AND uid > ? ORDER BY uid LIMIT ?`, last)
		if err != nil || len(uids) == 0 {
			return err
		}
		last = uids[len(uids)-1]
		set := make([]imap.UID, len(uids))
		for i, u := range uids {
			set[i] = imap.UID(u)
		}
		sums, err := hashTarget(set)
		if err != nil {
			return err
		}
		for uid, sum := range sums {
			if _, err := d.db.ExecContext(ctx, `UPDATE h SET sum = ? WHERE uid = ?`, sum[:], int64(uid)); err != nil {
				return fmt.Errorf("match database: %w", err)
			}
		}
	}
}

// byContent lets each target message stand for at most one archive
// message of its content, in the archive's order, the lowest UID first.
func (d *matchDB) byContent(ctx context.Context, hashArchive func(i int, row int64) ([32]byte, error)) error {
	if _, err := d.db.ExecContext(ctx, `CREATE INDEX h_sum ON h(sum, uid) WHERE sum IS NOT NULL`); err != nil {
		return fmt.Errorf("match database: %w", err)
	}
	for after := -1; ; {
		ps, err := d.places(ctx, "state = 2", after, matchPage)
		if err != nil || len(ps) == 0 {
			return err
		}
		after = ps[len(ps)-1].i
		for _, p := range ps {
			if err := d.compare(ctx, p, hashArchive); err != nil {
				return err
			}
		}
	}
}

// compare settles archive message p by its content.
func (d *matchDB) compare(ctx context.Context, p place, hashArchive func(i int, row int64) ([32]byte, error)) error {
	sum, err := hashArchive(p.i, p.row)
	if err != nil {
		return err
	}
	var uid int64
	err = d.db.QueryRowContext(ctx, `SELECT uid FROM h WHERE sum = ? AND used = 0 ORDER BY uid LIMIT 1`, sum[:]).Scan(&uid)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = d.db.ExecContext(ctx, `UPDATE a SET state = 0 WHERE i = ?`, p.i)
	case err == nil:
		if _, err = d.db.ExecContext(ctx, `UPDATE h SET used = 1 WHERE uid = ?`, uid); err == nil {
			_, err = d.db.ExecContext(ctx, `UPDATE a SET state = 1, at = ? WHERE i = ?`, uid, p.i)
		}
	}
	if err != nil {
		return fmt.Errorf("match database: %w", err)
	}
	return nil
}

// page reads one page of a keyset query over integers.
func (d *matchDB) page(ctx context.Context, q string, after int64) ([]int64, error) {
	rows, err := d.db.QueryContext(ctx, q, after, matchPage)
	if err != nil {
		return nil, fmt.Errorf("match database: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("match database: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("match database: %w", err)
	}
	return out, nil
}

// place is an archive message of the folder's list: its place and catalog row.
type place struct {
	i   int
	row int64
}

// missing returns up to limit messages after place after that the target
// lacks, in order.
func (d *matchDB) missing(ctx context.Context, after, limit int) ([]place, error) {
	return d.places(ctx, "state != 1", after, limit)
}

// places returns up to limit messages after place after whose state
// satisfies cond, in order.
func (d *matchDB) places(ctx context.Context, cond string, after, limit int) ([]place, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT i, row FROM a WHERE `+cond+` AND i > ? ORDER BY i LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("match database: %w", err)
	}
	defer rows.Close()
	var out []place
	for rows.Next() {
		var p place
		if err := rows.Scan(&p.i, &p.row); err != nil {
			return nil, fmt.Errorf("match database: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("match database: %w", err)
	}
	return out, nil
}

// each calls fn with every archive message once resolved, in order: its
// place, the target UID that is it (0 if the target lacks it) and its
// size. fn must not use d.
func (d *matchDB) each(ctx context.Context, fn func(i int, uid imap.UID, size int64) error) error {
	rows, err := d.db.QueryContext(ctx, `SELECT i, CASE state WHEN 1 THEN at ELSE 0 END, size FROM a ORDER BY i`)
	if err != nil {
		return fmt.Errorf("match database: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var i, uid, size int64
		if err := rows.Scan(&i, &uid, &size); err != nil {
			return fmt.Errorf("match database: %w", err)
		}
		if err := fn(int(i), imap.UID(uid), size); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("match database: %w", err)
	}
	return nil
}
