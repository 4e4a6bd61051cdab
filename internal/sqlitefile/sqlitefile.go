// Package sqlitefile opens the SQLite files an account's archive holds (the
// catalog, the search index) the one way they are opened: owner-only files
// whose WAL stays when the writer closes, and readers that use SQLite's
// WAL locking so that a writer committing and checkpointing meanwhile
// leaves every read consistent.
package sqlitefile

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
	"modernc.org/sqlite"
)

// URI is the file: URI of path, escaped, to which query parameters are
// appended after "?".
func URI(path string) string {
	u := url.URL{Scheme: "file", Path: path, OmitHost: true}
	return u.String()
}

// Create creates an empty file with mode m unless it exists, before SQLite
// opens it: SQLite gives the -wal and -shm files the database file's mode.
func Create(path string, m fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, m)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// OpenWriter opens the database at path with the DSN parameters params
// (after "?"), on one connection that keeps the WAL file when it closes
// (SQLITE_FCNTL_PERSIST_WAL), so that readers always find the -wal and
// -shm files they need and never create them.
func OpenWriter(path, params string) (*sql.DB, error) {
	base, err := sqlite.NewConnector(URI(path) + "?" + params)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(persistWAL{base})
	db.SetMaxOpenConns(1)
	return db, nil
}

// persistWAL opens connections that keep the WAL file when they close.
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

// ReadOnlyURI opens the database at path read-only, with SQLite's WAL
// locking. That needs the -wal and -shm files: the writer keeps them
// (OpenWriter), and a reader that may write the directory creates them for
// a file written before (as root, SQLite gives them the file's owner). Only
// a reader that can do neither opens the file immutable: safe for short
// reads while nothing writes. More parameters may follow, after "&".
func ReadOnlyURI(path string) string {
	uri := URI(path) + "?mode=ro"
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

// sqliteFull is SQLite's primary result code for a full disk (SQLITE_FULL).
const sqliteFull = 13

// Err returns err, made to wrap syscall.ENOSPC as well when SQLite failed
// because the disk is full: SQLite reports it as its own code, which a
// caller checking for a full disk with errors.Is would not see.
func Err(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqliteFull {
		return fmt.Errorf("%w (%w)", err, syscall.ENOSPC)
	}
	return err
}
