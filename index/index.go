package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/mailkeep/mailkeep/internal/sqlitefile"
)

// File is the index's database, in the account's archive directory.
const File = "index.db"

// schemaVersion is the index schema this build writes (PRAGMA user_version).
const schemaVersion = 1

// ErrVersion reports an index written by a newer mailkeep.
var ErrVersion = errors.New("unsupported index version")

// The FTS5 table is contentless: it keeps the inverted index of the text,
// not the text, so the index holds no copy of any message. Case and
// diacritics are folded by unicode61; CJK runs arrive as bigrams (segment).
const schema = `
CREATE TABLE docs (
	id INTEGER PRIMARY KEY,
	handle TEXT NOT NULL,
	folder TEXT NOT NULL,
	key TEXT NOT NULL,
	date INTEGER NOT NULL,
	size INTEGER NOT NULL,
	sender TEXT NOT NULL,
	rcpt TEXT NOT NULL,
	cc TEXT NOT NULL,
	subject TEXT NOT NULL,
	message_id TEXT NOT NULL,
	attachments TEXT NOT NULL,
	undecodable TEXT NOT NULL
);
CREATE INDEX docs_handle ON docs (handle);
CREATE INDEX docs_date ON docs (date);
CREATE VIRTUAL TABLE text USING fts5 (subject, sender, rcpt, cc, body, attachments,
	content='', contentless_delete=1,
	tokenize='unicode61 remove_diacritics 2');
`

// Index is one account's search index.
type Index struct {
	db   *sql.DB
	dir  string // the account's archive directory
	path string
	log  *slog.Logger
}

// Open opens (creating if needed) the index of the account whose archive
// directory is accountDir (<archive>/<account>). The file is created
// owner-only. The index is rebuildable, so commits need not survive a
// power loss (WAL, synchronous=NORMAL): what is lost, Catchup adds again.
// The WAL is kept when the index closes, as the catalog's is, so that
// readers (OpenReadOnly) find the -wal and -shm files they need and never
// create them. log may be nil.
func Open(ctx context.Context, accountDir string, log *slog.Logger) (*Index, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	path := filepath.Join(accountDir, File)
	if err := sqlitefile.Create(path, 0o600); err != nil {
		return nil, fmt.Errorf("create index: %w", err)
	}
	db, err := sqlitefile.OpenWriter(path, "_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"+
		"&_pragma=busy_timeout(10000)&_pragma=journal_size_limit(67108864)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open index: %w", err)
	}
	ix := &Index{db: db, dir: accountDir, path: path, log: log}
	if err := ix.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("index %s: %w", path, err)
	}
	return ix, nil
}

func (ix *Index) migrate(ctx context.Context) error {
	var v int
	if err := ix.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	switch {
	case v == schemaVersion:
		return nil
	case v > schemaVersion:
		return fmt.Errorf("%w: index schema %d is newer than this mailkeep (%d); "+
			"remove %s to rebuild it", ErrVersion, v, schemaVersion, File)
	}
	return ix.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, schema); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion))
		return err
	})
}

// ErrNoIndex reports that an account has no index yet.
var ErrNoIndex = errors.New("no index yet")

// OpenReadOnly opens an existing index for Search and Lookup only. It
// writes nothing (see readOnlyURI), so it may run beside a backup that
// writes the index and as a user who cannot write the archive. An account
// without an index is ErrNoIndex.
func OpenReadOnly(ctx context.Context, accountDir string) (*Index, error) {
	path := filepath.Join(accountDir, File)
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", accountDir, ErrNoIndex)
		}
		return nil, fmt.Errorf("open index: %w", err)
	}
	db, err := sql.Open("sqlite", sqlitefile.ReadOnlyURI(path)+"&_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		return nil, fmt.Errorf("open index: %w", err)
	}
	db.SetMaxOpenConns(1)
	ix := &Index{db: db, dir: accountDir, path: path, log: slog.New(slog.DiscardHandler)}
	if err := ix.checkVersion(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("index %s: %w", path, err)
	}
	return ix, nil
}

func (ix *Index) checkVersion(ctx context.Context) error {
	var v int
	if err := ix.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	switch {
	case v > schemaVersion:
		return fmt.Errorf("%w: index schema %d is newer than this mailkeep (%d)", ErrVersion, v, schemaVersion)
	case v == 0:
		return ErrNoIndex
	}
	return nil
}

// Close closes the database.
func (ix *Index) Close() error { return ix.db.Close() }

// Size returns the bytes the index takes on disk (its database and WAL).
func (ix *Index) Size() (int64, error) {
	var n int64
	for _, p := range []string{ix.path, ix.path + "-wal"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("index size: %w", err)
		}
		n += fi.Size()
	}
	return n, nil
}

func (ix *Index) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := ix.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return fmt.Errorf("index: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("index commit: %w", err)
	}
	return nil
}
