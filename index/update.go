package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// IncrementalSource is a Source that can also list only the messages
// above a catalog row id.
type IncrementalSource interface {
	Source
	// MessagesAfter calls fn for every message with an ID above after,
	// in ascending ID order, and stops at fn's first error.
	MessagesAfter(ctx context.Context, after int64, fn func(MessageInfo) error) error
}

// errNotPrefix: the index is not a prefix of the catalog.
var errNotPrefix = errors.New("the newest indexed message is not the catalog's")

// Update indexes the catalog rows above the newest indexed one: the rows
// a backup has committed since the index last caught up. It is what runs
// during a backup, and it costs nothing for the rows already indexed.
// Rows are added in id order and each commit holds a prefix of what is
// missing, so after a crash the index is still a prefix of the catalog.
// When it is not (the newest doc's row is gone or holds another message:
// a rebuilt catalog, a row removed by verify --repair), Update runs
// Catchup, which also drops stale docs. It returns how many messages it
// indexed.
func (ix *Index) Update(ctx context.Context, src IncrementalSource) (int, error) {
	top, err := ix.lastDoc(ctx)
	if err != nil {
		return 0, fmt.Errorf("index update: %w", err)
	}
	c := &catchup{ctx: ctx, ix: ix, src: src, cur: docCursor{ix: ix, eof: true},
		maxDocs: updateDocs, maxBytes: updateBytes}
	seen := top.id == 0
	err = src.MessagesAfter(ctx, max(top.id-1, 0), func(m MessageInfo) error {
		if !seen {
			if m.ID != top.id || m.Folder != top.folder || m.Key != top.key {
				return errNotPrefix
			}
			seen, c.last = true, m.ID
			return nil
		}
		return c.message(m)
	})
	if err == nil && !seen {
		err = errNotPrefix
	}
	if errors.Is(err, errNotPrefix) {
		ix.log.Info("index: the catalog changed under the index; checking every message")
		return ix.Catchup(ctx, src)
	}
	if err == nil {
		err = c.flush()
	}
	if err != nil {
		return c.added, fmt.Errorf("index update: %w", err)
	}
	return c.added, nil
}

// lastDoc returns the doc with the highest id; id 0 when there is none.
func (ix *Index) lastDoc(ctx context.Context) (docKey, error) {
	var d docKey
	err := ix.db.QueryRowContext(ctx, `SELECT id, folder, key FROM docs ORDER BY id DESC LIMIT 1`).
		Scan(&d.id, &d.folder, &d.key)
	if errors.Is(err, sql.ErrNoRows) {
		return docKey{}, nil
	}
	return d, err
}

// Lag returns how many catalog rows lie above the newest indexed one:
// messages a backup archived that the index does not hold yet.
func (ix *Index) Lag(ctx context.Context) (int, error) {
	var n int
	err := ix.withCatalog(ctx, func(conn *sql.Conn) error {
		return conn.QueryRowContext(ctx, `SELECT count(*) FROM cat.messages
			WHERE id > (SELECT COALESCE(max(id), 0) FROM main.docs)`).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("index lag: %w", err)
	}
	return n, nil
}
