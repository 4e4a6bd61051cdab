package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mailkeep/mailkeep/internal/sqlitefile"

	"github.com/mailkeep/mailkeep/archive"
)

// DefaultLimit is the number of hits Search returns when asked for 0.
const DefaultLimit = 50

// SearchOptions shape a search's answer.
type SearchOptions struct {
	// Limit is the most hits returned: 0 means DefaultLimit, a negative
	// number no limit.
	Limit int
	// Run, when not 0, keeps only the messages that the server had at
	// that backup run (the presence rule of archive.View); flags and gone
	// state are still the current ones.
	Run int64
}

// Hit is one message that matched, as the catalog records it now.
type Hit struct {
	ID            int64 // the catalog's row id
	Handle        string
	Folder        string
	Date          time.Time // INTERNALDATE
	From, Subject string
	MessageID     string
	Size          int64
	Flags         []string
	Gone          bool // deleted on the server
	ServerDeleted bool // deleted from the server by POP3 delete mode
	Attachments   []string
	Undecodable   string
}

const hitCols = `d.id, d.handle, f.name, d.date, d.sender, d.subject, m.message_id, m.size, m.flags,
	` + goneSQL + `, m.server_deleted_run IS NOT NULL, d.attachments, d.undecodable`

// Search returns the messages that match q, newest first. It reads flags,
// gone state, folder, size and Message-ID from the account's catalog,
// attached read-only for the query, so they are current; docs whose
// catalog row has gone or changed key (the index lags) are left out.
func (ix *Index) Search(ctx context.Context, q Query, opts SearchOptions) ([]Hit, error) {
	limit := opts.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	where, args := compile(q)
	if opts.Run != 0 {
		where = "(" + where + ") AND " + presentAt
		args = append(args, opts.Run, opts.Run)
	}
	hits, err := ix.search(ctx, where, args, limit)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return hits, nil
}

// presentAt: the message was on the server at run ? (first_run ≤ R and not
// gone by then; what POP3 delete mode took away counts as present).
const presentAt = `m.first_run <= ? AND (m.gone_run IS NULL OR m.gone_run > ? OR m.server_deleted_run IS NOT NULL)`

func (ix *Index) search(ctx context.Context, where string, args []any, limit int) ([]Hit, error) {
	query := `SELECT ` + hitCols + ` FROM docs d
		JOIN cat.messages m ON m.id = d.id AND m.key = d.key
		JOIN cat.folders f ON f.id = m.folder_id AND f.name = d.folder
		WHERE ` + where + ` ORDER BY d.date DESC, d.id DESC LIMIT ?`
	var hits []Hit
	err := ix.withCatalog(ctx, func(conn *sql.Conn) error {
		rows, err := conn.QueryContext(ctx, query, append(args, limit)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			h, err := scanHit(rows)
			if err != nil {
				return err
			}
			hits = append(hits, h)
		}
		return rows.Err()
	})
	return hits, err
}

func scanHit(rows *sql.Rows) (Hit, error) {
	var h Hit
	var date int64
	var flags, names string
	err := rows.Scan(&h.ID, &h.Handle, &h.Folder, &date, &h.From, &h.Subject, &h.MessageID, &h.Size,
		&flags, &h.Gone, &h.ServerDeleted, &names, &h.Undecodable)
	h.Date = time.Unix(date, 0)
	h.Flags = archive.SplitFlags(flags)
	if names != "" {
		h.Attachments = strings.Split(names, "\n")
	}
	return h, err
}

// withCatalog runs fn on a connection that has the account's catalog
// attached as "cat", read-only (see sqlitefile.ReadOnlyURI), and detaches it
// afterwards.
func (ix *Index) withCatalog(ctx context.Context, fn func(*sql.Conn) error) error {
	path := filepath.Join(ix.dir, "catalog.db")
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	conn, err := ix.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS cat`, sqlitefile.ReadOnlyURI(path)); err != nil {
		return fmt.Errorf("attach catalog: %w", err)
	}
	err = fn(conn)
	if _, derr := conn.ExecContext(context.WithoutCancel(ctx), `DETACH DATABASE cat`); derr != nil {
		err = errors.Join(err, fmt.Errorf("detach catalog: %w", derr))
	}
	return err
}

// Handle errors of Lookup.
var (
	ErrNotFound  = errors.New("no message has this id")
	ErrAmbiguous = errors.New("id prefix names more than one message")
	ErrBadHandle = fmt.Errorf("a message id is %d to %d hex digits", minHandle, archive.HandleDigits)
)

// minHandle is the shortest handle prefix Lookup accepts.
const minHandle = 8

// Lookup returns the catalog row id of the message whose handle is, or
// begins with, handle (at least 8 hex digits). Only indexed messages are
// found.
func (ix *Index) Lookup(ctx context.Context, handle string) (int64, error) {
	h := strings.ToLower(handle)
	if len(h) < minHandle || len(h) > archive.HandleDigits || strings.Trim(h, "0123456789abcdef") != "" {
		return 0, fmt.Errorf("%q: %w", handle, ErrBadHandle)
	}
	rows, err := ix.db.QueryContext(ctx, `SELECT id FROM docs WHERE handle >= ? AND handle < ? LIMIT 2`, h, h+"g")
	if err != nil {
		return 0, fmt.Errorf("lookup: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return 0, fmt.Errorf("lookup: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("lookup: %w", err)
	}
	switch len(ids) {
	case 0:
		return 0, fmt.Errorf("%s: %w", handle, ErrNotFound)
	case 1:
		return ids[0], nil
	}
	return 0, fmt.Errorf("%s: %w", handle, ErrAmbiguous)
}
