package restore

import (
	"context"
	"fmt"
	"strings"

	"github.com/mailkeep/mailkeep/archive"
)

// A restore with labels merges its folders in the match database too, so
// that memory does not grow with them: the rows of the merged folders and
// their Gmail data go into two tables, SQL makes one message of the rows
// that are one (as labels.go says), and the folder's list (table a) holds
// one row per message. The labels of a message are read when they are set.

// labelSchema holds the merged folders' rows of a restore with labels.
const labelSchema = `
DROP TABLE IF EXISTS lab;
CREATE TABLE lab (                  -- a row of a merged folder
	pos    INTEGER PRIMARY KEY,     -- folder by folder, each in server order
	f      INTEGER NOT NULL,        -- the folder's place among the merged
	row    INTEGER NOT NULL,        -- catalog row
	id     TEXT NOT NULL,           -- Message-ID, '' if none
	vsize  INTEGER NOT NULL,
	size   INTEGER NOT NULL,
	key    TEXT NOT NULL,           -- content and date, or X-GM-MSGID: rows that are one message
	flabel TEXT NOT NULL,           -- the label its folder gives, '' none
	n      INTEGER                  -- it is the n-th row of its folder with its key
);
DROP TABLE IF EXISTS gm;
CREATE TABLE gm (                   -- the Gmail data of a row
	row    INTEGER PRIMARY KEY,
	msgid  INTEGER NOT NULL,        -- X-GM-MSGID, 0 none
	labels TEXT NOT NULL            -- X-GM-LABELS, each followed by a NUL
);
DROP TABLE IF EXISTS g;`

// labelSteps make the messages of a restore with labels: the n-th row of
// a folder with a key is part of the n-th message with that key (never
// two rows of one folder in one message); the messages come in the order
// of their first rows, and each is its first row.
var labelSteps = []string{
	`UPDATE lab SET key = 'id ' || gm.msgid FROM gm WHERE gm.row = lab.row AND gm.msgid != 0`,
	`UPDATE lab SET n = w.n FROM (SELECT pos, ROW_NUMBER() OVER (PARTITION BY key, f ORDER BY pos) AS n FROM lab) w
		WHERE w.pos = lab.pos`,
	`CREATE INDEX lab_key ON lab(key, n)`,
	`CREATE TABLE g AS SELECT ROW_NUMBER() OVER (ORDER BY MIN(pos)) - 1 AS i, key, n, MIN(pos) AS first
		FROM lab GROUP BY key, n`,
	`CREATE UNIQUE INDEX g_i ON g(i)`,
	`INSERT INTO a (i, row, id, vsize, size) SELECT g.i, lab.row, lab.id, lab.vsize, lab.size
		FROM g JOIN lab ON lab.pos = g.first ORDER BY g.i`,
}

// labelRow is a row of a merged folder: f is the folder's place among the
// merged, label the label the folder gives ("" none).
type labelRow struct {
	f     int
	m     archive.Message
	label string
}

// addLabelRows adds the rows that each hands, in order.
func (d *matchDB) addLabelRows(ctx context.Context, each func(add func(labelRow) error) error) error {
	pos := 0
	return d.fill(ctx, `INSERT INTO lab (pos, f, row, id, vsize, size, key, flabel) VALUES `, 8,
		func(add func(...any) error) error {
			return each(func(r labelRow) error {
				pos++
				key := fmt.Sprintf("%x %d", r.m.SHA256, r.m.InternalDate.Unix())
				return add(pos, r.f, r.m.ID, r.m.MessageID, r.m.VSize, r.m.Size, key, r.label)
			})
		})
}

// addGmail adds the Gmail data that each hands, by catalog row.
func (d *matchDB) addGmail(ctx context.Context, each func(add func(row int64, g archive.Gmail) error) error) error {
	return d.fill(ctx, `INSERT OR REPLACE INTO gm (row, msgid, labels) VALUES `, 3, func(add func(...any) error) error {
		return each(func(row int64, g archive.Gmail) error {
			var b strings.Builder
			for _, l := range g.Labels {
				b.WriteString(l)
				b.WriteByte(0)
			}
			return add(row, int64(g.MsgID), b.String())
		})
	})
}

// mergeLabels makes the messages of the rows added, into the folder's
// list, and returns how many there are.
func (d *matchDB) mergeLabels(ctx context.Context) (int, error) {
	for _, q := range labelSteps {
		if _, err := d.db.ExecContext(ctx, q); err != nil {
			return 0, fmt.Errorf("match database: %w", err)
		}
	}
	var n int
	if err := d.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM g`).Scan(&n); err != nil {
		return 0, fmt.Errorf("match database: %w", err)
	}
	return n, nil
}

// eachLabels hands fn the labels of each message, in order: those the
// backup recorded of its rows and those their folders give, each once, in
// the order of its rows.
func (d *matchDB) eachLabels(ctx context.Context, fn func(i int, labels []string) error) error {
	rows, err := d.db.QueryContext(ctx, `SELECT g.i, lab.flabel, COALESCE(gm.labels, '')
		FROM g JOIN lab ON lab.key = g.key AND lab.n = g.n LEFT JOIN gm ON gm.row = lab.row
		ORDER BY g.i, lab.pos`)
	if err != nil {
		return fmt.Errorf("match database: %w", err)
	}
	defer rows.Close()
	cur, labels := -1, []string(nil)
	for rows.Next() {
		var i int
		var flabel, gmLabels string
		if err := rows.Scan(&i, &flabel, &gmLabels); err != nil {
			return fmt.Errorf("match database: %w", err)
		}
		if i != cur {
			if cur >= 0 {
				if err := fn(cur, labels); err != nil {
					return err
				}
			}
			cur, labels = i, nil
		}
		if gmLabels != "" {
			labels = addLabels(labels, strings.Split(strings.TrimSuffix(gmLabels, "\x00"), "\x00")...)
		}
		if flabel != "" {
			labels = addLabels(labels, flabel)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("match database: %w", err)
	}
	if cur >= 0 {
		return fn(cur, labels)
	}
	return nil
}
