package archive

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mailkeep/mailkeep/internal/sqlitefile"
)

// This file holds what a copy of an archive elsewhere (package replicate)
// needs of the archive: a consistent copy of the catalog, the stored
// bytes of a message file, and a Snapshot over a catalog copy whose
// message files are read from somewhere else.

// FileOpener opens the stored bytes of the file of message m of a folder
// (what the codec wrote: one zstd frame, or in an encrypted archive an age
// file holding it), wherever they are kept. A file that is not there is an
// error wrapping fs.ErrNotExist.
type FileOpener func(folder FolderState, m Message) (io.ReadCloser, error)

// CopyCatalog writes a consistent copy of the catalog to path, which must
// not exist: SQLite's VACUUM INTO, inside one read transaction, so the copy
// is one committed state even while a backup commits. It takes no lock of
// mailkeep's and blocks no writer. VACUUM INTO writes its copy through the
// connection it runs on, so it gets its own read-write connection (that
// writes nothing to the catalog, and keeps the WAL files as the writer
// does).
func (s *Snapshot) CopyCatalog(ctx context.Context, path string) error {
	if s.dir == "" {
		return errors.New("copy catalog: not an archive's catalog")
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("copy catalog: %s exists", path)
	}
	db, err := sqlitefile.OpenWriter(filepath.Join(s.dir, catalogFile), "mode=rw&_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("copy catalog: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		os.Remove(path)
		return fmt.Errorf("copy catalog: %w", err)
	}
	return nil
}

// OpenCatalogCopy opens a catalog copy at path (see CopyCatalog) of an
// archive whose format marker is marker (see FormatMarker) as a Snapshot
// whose message files open is asked for. The copy must not change while it
// is open. Dir of the Snapshot is "". onClose, if not nil, runs when the
// Snapshot is closed (to remove the copy). The messages of an encrypted
// archive's copy need the identities (SetIdentities).
func OpenCatalogCopy(ctx context.Context, path, marker string, open FileOpener, onClose func() error) (*Snapshot, error) {
	encrypted, err := parseMarker(marker)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("catalog copy: %w", err)
	}
	db, err := sql.Open("sqlite", sqlitefile.URI(path)+"?mode=ro&immutable=1&_pragma=query_only(1)")
	if err != nil {
		return nil, fmt.Errorf("open catalog copy: %w", err)
	}
	db.SetMaxOpenConns(1)
	v, err := checkSchema(ctx, db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("catalog copy %s: %w", path, err)
	}
	return &Snapshot{cat: &Catalog{db: db, version: v}, codec: &codec{encrypted: encrypted}, open: open,
		onClose: onClose}, nil
}

// FormatMarker returns the archive's format marker, the text of its
// FORMAT file, for a copy of the archive to record (see
// CheckFormatMarker).
func (s *Snapshot) FormatMarker() (string, error) {
	if s.dir == "" {
		return "", errors.New("format marker: not an archive's catalog")
	}
	data, err := os.ReadFile(filepath.Join(s.dir, formatFile))
	if err != nil {
		return "", fmt.Errorf("read format marker: %w", err)
	}
	return strings.TrimSpace(string(data)), nil
}

// CheckFormatMarker refuses a format marker (see FormatMarker) of a format
// this build does not read, with an error wrapping ErrFormat.
func CheckFormatMarker(marker string) error {
	_, err := parseMarker(marker)
	return err
}

// IntegrityCheck runs SQLite's integrity check on the catalog: "" when
// it is sound, else what SQLite found.
func (s *Snapshot) IntegrityCheck(ctx context.Context) (string, error) {
	return s.cat.integrity(ctx)
}

// integrity runs SQLite's integrity check: "" when the database is sound,
// else what SQLite found.
func (c *Catalog) integrity(ctx context.Context) (string, error) {
	var res string
	if err := c.db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil {
		return "", fmt.Errorf("catalog integrity check: %w", err)
	}
	if res == "ok" {
		return "", nil
	}
	return res, nil
}

// remoteFolder is a folder of a Snapshot whose files open reads, framed
// as c says.
func remoteFolder(st FolderState, open FileOpener, c *codec) *Folder {
	f := &Folder{Name: st.Name, Rel: st.Dir, codec: c, remote: func(m Message) (io.ReadCloser, error) { return open(st, m) }}
	if d := []rune(st.Delim); len(d) > 0 {
		f.Delim = d[0]
	}
	return f
}

// OpenFile opens the stored bytes of the message of row m, found by its key
// if a backup renamed it since the row was read. A file that is gone is an
// error wrapping fs.ErrNotExist.
func (f *Folder) OpenFile(m Message) (*os.File, error) {
	if f.remote != nil {
		return nil, errors.New("open file: the folder's files are not local")
	}
	return f.openRow(m)
}

// CheckStored reads the stored bytes of the message of row m of folder f
// from r to the end and checks them without the identity: in a plain
// archive, that they decode to the row's size and SHA-256; in an
// encrypted one, that they are the file stored then (the row's
// FileSHA256). A mismatch is an error wrapping ErrDamaged.
func (f *Folder) CheckStored(r io.Reader, m Message) error {
	if f.codec.encrypted {
		return checkStoredSum(r, m)
	}
	rc, err := decode(io.NopCloser(r), f.codec)
	if err != nil {
		return fmt.Errorf("%s: %w: %w", m.Key, ErrDamaged, err)
	}
	v := Verified(rc, m)
	defer v.Close()
	_, err = io.Copy(io.Discard, v)
	return err
}
