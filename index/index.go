package index

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
	"modernc.org/sqlite"
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
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("create index: %w", err)
	}
	dsn := sqliteURI(path) + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)" +
		"&_pragma=busy_timeout(10000)&_pragma=journal_size_limit(67108864)&_txlock=immediate"
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("open index: %w", err)
	}
	db := sql.OpenDB(persistWAL{base})
	db.SetMaxOpenConns(1)
	ix := &Index{db: db, dir: accountDir, path: path, log: log}
	if err := ix.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("index %s: %w", path, err)
	}
	return ix, nil
}

// persistWAL opens connections that keep the WAL file when they close
// (SQLITE_FCNTL_PERSIST_WAL).
type persistWAL struct{ driver.Connector }

func (p persistWAL) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := p.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	if fc, ok := conn.(sqlite.FileControl); ok {
		if _, err := fc.FileControlPersistWAL("main", 1); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return conn, nil
}

// createPrivate creates an empty database file readable by its owner only,
// before SQLite does, so that its -wal and -shm files get the same mode.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// sqliteURI spells a path as an SQLite URI, escaping '?', '#' and '%'.
func sqliteURI(path string) string {
	u := url.URL{Scheme: "file", Path: path, OmitHost: true}
	return u.String()
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
	db, err := sql.Open("sqlite", readOnlyURI(path)+"&_pragma=busy_timeout(10000)&_pragma=query_only(1)")
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

// readOnlyURI opens a database read-only, with SQLite's WAL locking, so
// that a writer committing and checkpointing meanwhile leaves every read
// consistent. That needs the -wal and -shm files: the writers keep them
// (persistWAL), and a reader that may write the directory creates them
// for a file written before. Only a reader that can do neither opens the
// file immutable: safe for short reads while nothing writes (the rule of
// the catalog's read-only opener).
func readOnlyURI(path string) string {
	uri := sqliteURI(path) + "?mode=ro"
	if !walUsable(path) {
		uri += "&immutable=1"
	}
	return uri
}

func walUsable(path string) bool {
	_, werr := os.Lstat(path + "-wal")
	_, serr := os.Lstat(path + "-shm")
	if werr == nil && serr == nil {
		return true
	}
	return unix.Access(filepath.Dir(path), unix.W_OK) == nil
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
