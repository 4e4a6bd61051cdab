package archive

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrNoArchive reports that an account has no archive yet: no backup of it
// has run.
var ErrNoArchive = errors.New("no archive yet")

// OpenReadOnly opens the catalog of an existing account archive for
// reading. It takes no lock and writes nothing, so it may run beside a
// backup of the account (SQLite's WAL lets a reader see the last committed
// state) and as a user who cannot write the archive. An account that has
// no archive yet is an error wrapping ErrNoArchive.
func OpenReadOnly(ctx context.Context, root, name string) (*Catalog, error) {
	dir := filepath.Join(root, name)
	if err := readFormat(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, catalogFile)
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", dir, ErrNoArchive)
		}
		return nil, fmt.Errorf("catalog: %w", err)
	}
	db, err := sql.Open("sqlite", readOnlyDSN(path))
	if err != nil {
		return nil, fmt.Errorf("open catalog: %w", err)
	}
	db.SetMaxOpenConns(1)
	if err := checkSchema(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("catalog %s: %w", path, err)
	}
	return &Catalog{db: db}, nil
}

// readOnlyDSN opens the catalog read-only. Without a WAL file no writer
// is active and every commit is in the database file: it is then opened
// immutable, so that SQLite creates no -wal and -shm files, which, made by
// another user (root running status), would lock the agent out of its own
// catalog. A writer that starts meanwhile appends to a new WAL and leaves
// the database file alone until it checkpoints, long after a status read.
func readOnlyDSN(path string) string {
	dsn := "file:" + path + "?mode=ro&_pragma=busy_timeout(10000)&_pragma=query_only(1)"
	if _, err := os.Lstat(path + "-wal"); errors.Is(err, fs.ErrNotExist) {
		dsn += "&immutable=1"
	}
	return dsn
}

// readFormat checks the format marker without writing one.
func readFormat(dir string) error {
	path := filepath.Join(dir, formatFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", dir, ErrNoArchive)
	}
	if err != nil {
		return fmt.Errorf("read format marker: %w", err)
	}
	var magic string
	var v int
	if _, err := fmt.Sscanf(string(bytes.TrimSpace(data)), "%s %d", &magic, &v); err != nil || magic != formatMagic {
		return fmt.Errorf("%s: %w: not a mailkeep archive marker: %q", path, ErrFormat, strings.TrimSpace(string(data)))
	}
	if v != FormatVersion {
		return fmt.Errorf("%s: %w: version %d (this mailkeep reads version %d)", path, ErrFormat, v, FormatVersion)
	}
	return nil
}

// checkSchema refuses a catalog that is newer than this build, or empty.
func checkSchema(ctx context.Context, db *sql.DB) error {
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	switch {
	case v > schemaVersion:
		return fmt.Errorf("%w: catalog schema %d is newer than this mailkeep (%d)", ErrFormat, v, schemaVersion)
	case v == 0:
		return ErrNoArchive
	}
	return nil
}

// LastRun returns the newest run whose outcome is one of outcomes; ok is
// false when there is none.
func (c *Catalog) LastRun(ctx context.Context, outcomes ...string) (r Run, ok bool, err error) {
	if len(outcomes) == 0 {
		return Run{}, false, nil
	}
	args := make([]any, len(outcomes))
	for i, o := range outcomes {
		args[i] = o
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(outcomes)), ", ")
	row := c.db.QueryRowContext(ctx, `SELECT id, kind, started, COALESCE(ended, ''), outcome, folders,
		new_messages, new_bytes, flag_updates, gone, errors, COALESCE(error, '')
		FROM runs WHERE outcome IN (`+marks+`) ORDER BY id DESC LIMIT 1`, args...)
	r, err = scanRun(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, false, nil
	}
	if err != nil {
		return Run{}, false, fmt.Errorf("catalog: %w", err)
	}
	return r, true, nil
}

// FirstRun returns the oldest run of any outcome; ok is false when there
// is none.
func (c *Catalog) FirstRun(ctx context.Context) (r Run, ok bool, err error) {
	row := c.db.QueryRowContext(ctx, `SELECT id, kind, started, COALESCE(ended, ''), outcome, folders,
		new_messages, new_bytes, flag_updates, gone, errors, COALESCE(error, '')
		FROM runs ORDER BY id LIMIT 1`)
	r, err = scanRun(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, false, nil
	}
	if err != nil {
		return Run{}, false, fmt.Errorf("catalog: %w", err)
	}
	return r, true, nil
}

func scanRun(s interface{ Scan(...any) error }) (Run, error) {
	var r Run
	var started, ended string
	if err := s.Scan(&r.ID, &r.Kind, &started, &ended, &r.Outcome, &r.Folders, &r.NewMessages,
		&r.NewBytes, &r.FlagUpdates, &r.Gone, &r.Errors, &r.Error); err != nil {
		return Run{}, err
	}
	r.Started, _ = time.Parse(timeLayout, started)
	r.Ended, _ = time.Parse(timeLayout, ended)
	return r, nil
}
