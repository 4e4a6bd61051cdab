package index

import (
	"context"
	"database/sql"
	"fmt"
	"io"
)

// Source lists an account's archived messages and opens their content.
// The caller implements it over the archive's read view.
type Source interface {
	// Messages calls fn for every message of the catalog, gone ones
	// included, in ascending ID order, and stops at fn's first error.
	Messages(ctx context.Context, fn func(MessageInfo) error) error
	// Open returns a message's content, as the server sent it.
	Open(ctx context.Context, m MessageInfo) (io.ReadCloser, error)
}

// Batch limits of Catchup: docs and text bytes per transaction. Update,
// which runs beside a backup, keeps smaller batches, so that it adds
// little to the backup's memory.
const (
	catchupDocs  = 256
	catchupBytes = 16 << 20
	updateDocs   = 64
	updateBytes  = 2 << 20
	cursorPage   = 512
)

// Catchup indexes every catalog message that the index lacks, or holds
// under another folder or key (a rebuilt catalog numbers its rows anew),
// and drops docs whose catalog row is gone. It returns how many messages
// it indexed. A message that cannot be opened or decoded is indexed with
// what could be read, its problem noted in the doc and logged.
func (ix *Index) Catchup(ctx context.Context, src Source) (int, error) {
	c := &catchup{ctx: ctx, ix: ix, src: src, cur: docCursor{ix: ix}, maxDocs: catchupDocs, maxBytes: catchupBytes}
	if err := src.Messages(ctx, c.message); err != nil {
		return c.added, fmt.Errorf("index catchup: %w", err)
	}
	if err := c.finish(); err != nil {
		return c.added, fmt.Errorf("index catchup: %w", err)
	}
	return c.added, nil
}

// Rebuild empties the index and fills it again from src.
func (ix *Index) Rebuild(ctx context.Context, src Source) (int, error) {
	err := ix.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM docs`); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO text (text) VALUES ('delete-all')`)
		return err
	})
	if err != nil {
		return 0, err
	}
	n, err := ix.Catchup(ctx, src)
	if err != nil {
		return n, err
	}
	return n, ix.optimize(ctx)
}

// optimize merges the FTS segments and gives freed pages back.
func (ix *Index) optimize(ctx context.Context) error {
	if _, err := ix.db.ExecContext(ctx, `INSERT INTO text (text) VALUES ('optimize')`); err != nil {
		return fmt.Errorf("index optimize: %w", err)
	}
	if _, err := ix.db.ExecContext(ctx, `VACUUM`); err != nil {
		return fmt.Errorf("index vacuum: %w", err)
	}
	// VACUUM wrote every page to the WAL: give that space back too.
	if _, err := ix.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return fmt.Errorf("index checkpoint: %w", err)
	}
	return nil
}

type catchup struct {
	ctx     context.Context
	ix      *Index
	src     Source
	cur     docCursor
	last    int64
	pending []Doc
	bytes   int
	stale   []int64
	added   int
	// a batch is written when it holds this many docs or text bytes
	maxDocs, maxBytes int
}

func (c *catchup) message(m MessageInfo) error {
	if m.ID <= c.last {
		return fmt.Errorf("source lists message %d after %d", m.ID, c.last)
	}
	c.last = m.ID
	d, ok, err := c.cur.seek(c.ctx, m.ID, &c.stale)
	if err != nil {
		return err
	}
	if ok && d.folder == m.Folder && d.key == m.Key {
		return c.flushStale(cursorPage)
	}
	doc, err := c.extract(m)
	if err != nil {
		return err
	}
	c.pending = append(c.pending, doc)
	c.bytes += len(doc.Body)
	if len(c.pending) >= c.maxDocs || c.bytes >= c.maxBytes {
		return c.flush()
	}
	return nil
}

// extract reads one message; only a cancelled context is an error.
func (c *catchup) extract(m MessageInfo) (Doc, error) {
	rc, err := c.src.Open(c.ctx, m)
	if err != nil {
		if c.ctx.Err() != nil {
			return Doc{}, c.ctx.Err()
		}
		c.ix.log.Warn("index: cannot open message", "id", m.ID, "folder", m.Folder, "key", m.Key, "err", err)
		return Doc{MessageInfo: m, Undecodable: clip("open: "+err.Error(), maxNoteLen)}, nil
	}
	defer rc.Close()
	d, err := Extract(rc)
	if c.ctx.Err() != nil {
		return Doc{}, c.ctx.Err()
	}
	if err != nil {
		c.ix.log.Warn("index: message not fully decoded", "id", m.ID, "folder", m.Folder, "key", m.Key, "err", err)
	}
	d.MessageInfo = m
	return d, nil
}

func (c *catchup) flush() error {
	if err := c.ix.Add(c.ctx, c.pending); err != nil {
		return err
	}
	c.added += len(c.pending)
	c.pending, c.bytes = c.pending[:0], 0
	return c.flushStale(0)
}

func (c *catchup) flushStale(atLeast int) error {
	if len(c.stale) == 0 || len(c.stale) < atLeast {
		return nil
	}
	err := c.ix.Delete(c.ctx, c.stale)
	c.stale = c.stale[:0]
	return err
}

// finish writes what is pending and drops the docs past the catalog's
// last row.
func (c *catchup) finish() error {
	if err := c.flush(); err != nil {
		return err
	}
	for {
		ids, err := c.ix.idsAfter(c.ctx, c.last)
		if err != nil || len(ids) == 0 {
			return err
		}
		if err := c.ix.Delete(c.ctx, ids); err != nil {
			return err
		}
	}
}

// idsAfter returns up to a page of doc IDs above id.
func (ix *Index) idsAfter(ctx context.Context, id int64) ([]int64, error) {
	rows, err := ix.db.QueryContext(ctx, `SELECT id FROM docs WHERE id > ? ORDER BY id LIMIT ?`, id, cursorPage)
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("index: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// docCursor walks the index's docs in ID order, a page at a time, beside
// the catalog's rows: no read stays open while Catchup writes.
type docCursor struct {
	ix     *Index
	page   []docKey
	after  int64 // docs up to this ID are consumed
	eof    bool
	target int64 // the previous seek's ID
}

type docKey struct {
	id          int64
	folder, key string
}

// seek returns the doc of ID id if there is one. Docs between the previous
// target and id have no catalog row: they are appended to stale.
func (c *docCursor) seek(ctx context.Context, id int64, stale *[]int64) (docKey, bool, error) {
	defer func() { c.target = id }()
	for {
		if len(c.page) == 0 {
			if c.eof {
				return docKey{}, false, nil
			}
			if err := c.fill(ctx); err != nil {
				return docKey{}, false, err
			}
			continue
		}
		d := c.page[0]
		switch {
		case d.id > id:
			return docKey{}, false, nil
		case d.id == id:
			c.page = c.page[1:]
			return d, true, nil
		}
		*stale = append(*stale, d.id)
		c.page = c.page[1:]
	}
}

// fill reads the next page. Docs that Catchup added meanwhile have IDs up
// to the previous target and are not read again.
func (c *docCursor) fill(ctx context.Context) error {
	from := max(c.after, c.target)
	rows, err := c.ix.db.QueryContext(ctx, `SELECT id, folder, key FROM docs WHERE id > ? ORDER BY id LIMIT ?`,
		from, cursorPage)
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d docKey
		if err := rows.Scan(&d.id, &d.folder, &d.key); err != nil {
			return fmt.Errorf("index: %w", err)
		}
		c.page = append(c.page, d)
		c.after = d.id
	}
	c.eof = len(c.page) < cursorPage
	return rows.Err()
}
