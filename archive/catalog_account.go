package archive

import (
	"context"
	"database/sql"
	"fmt"
)

// Namespace is the source account's personal namespace (RFC 2342), as the
// server's NAMESPACE answer gave it: the prefix of the user's own folders
// ("" on most servers, "INBOX." on Courier and on Cyrus's standard layout)
// and the hierarchy delimiter that goes with it ("" when flat).
type Namespace struct {
	Prefix string
	Delim  string
}

// Keys of account_meta.
const (
	metaNamespacePrefix = "namespace.personal.prefix"
	metaNamespaceDelim  = "namespace.personal.delim"
)

// SetNamespace records the source account's personal namespace. A backup
// records it once per run, when the server has NAMESPACE.
func (c *Catalog) SetNamespace(ctx context.Context, ns Namespace) error {
	return c.tx(ctx, func(tx *sql.Tx) error {
		for k, v := range map[string]string{metaNamespacePrefix: ns.Prefix, metaNamespaceDelim: ns.Delim} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO account_meta (key, value) VALUES (?, ?)
				ON CONFLICT (key) DO UPDATE SET value = excluded.value`, k, v); err != nil {
				return err
			}
		}
		return nil
	})
}

// Namespace returns the source account's personal namespace as the last
// backup that could ask recorded it. ok is false when none did: the
// server has no NAMESPACE, the archive is a POP3 one, or it predates
// catalog schema 5.
func (s *Snapshot) Namespace(ctx context.Context) (ns Namespace, ok bool, err error) {
	if s.cat.version < listingSchema {
		return Namespace{}, false, nil
	}
	rows, err := s.cat.db.QueryContext(ctx, `SELECT key, value FROM account_meta WHERE key IN (?, ?)`,
		metaNamespacePrefix, metaNamespaceDelim)
	if err != nil {
		return Namespace{}, false, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return Namespace{}, false, fmt.Errorf("catalog: %w", err)
		}
		if k == metaNamespacePrefix {
			ns.Prefix = v
		} else {
			ns.Delim = v
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return Namespace{}, false, fmt.Errorf("catalog: %w", err)
	}
	return ns, n == 2, nil
}
