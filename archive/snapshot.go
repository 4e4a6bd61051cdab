package archive

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/mailkeep/mailkeep/internal/sqlitefile"
)

// ErrNoArchive reports that an account has no archive yet: no backup of it
// has run.
var ErrNoArchive = errors.New("no archive yet")

// Snapshot is the read view of one account's archive: its runs, its
// folders and messages as of a run, and their verified content. It takes
// no lock and writes nothing, so it may be open for as long as a reader
// needs (serve runs for days) beside a backup of the account, which it
// neither blocks nor breaks. What a reader is guaranteed is in
// doc/design.md ("Reading the archive"): each Folders or Messages call
// answers from one committed state of the catalog, and every message row
// it returns has a complete, durable file, found by its key even after a
// backup renamed it.
type Snapshot struct {
	dir     string
	cat     *Catalog
	codec   *codec       // how the archive frames its message files, and the identities given
	open    FileOpener   // nil: message files are read from dir
	onClose func() error // set by OpenCatalogCopy's caller: run after the catalog closes
}

// OpenSnapshot opens the archive of account name under root for reading.
// An account that has no archive yet is an error wrapping ErrNoArchive; an
// archive of an unknown format or a newer catalog one wrapping ErrFormat.
func OpenSnapshot(ctx context.Context, root, name string) (*Snapshot, error) {
	dir := filepath.Join(root, name)
	encrypted, err := readFormat(dir)
	if err != nil {
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
	v, err := checkSchema(ctx, db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("catalog %s: %w", path, err)
	}
	return &Snapshot{dir: dir, cat: &Catalog{db: db, version: v}, codec: &codec{encrypted: encrypted}}, nil
}

// Close releases the catalog (and, for a catalog copy, what its opener
// asked to release with it).
func (s *Snapshot) Close() error {
	err := s.cat.Close()
	if s.onClose != nil {
		err = errors.Join(err, s.onClose())
	}
	return err
}

// Dir is the account's archive directory.
func (s *Snapshot) Dir() string { return s.dir }

// readOnlyDSN opens the catalog read-only, with SQLite's WAL locking, so
// that a backup committing and checkpointing meanwhile leaves every read
// consistent however long the reader stays. That needs the -wal and -shm
// files: a writer keeps them (see OpenCatalog), and a reader that may
// write the directory creates them for an archive written before (as
// root, SQLite gives them the catalog's owner). Only a reader that can do
// neither opens the catalog immutable: safe for short reads while no
// backup runs.
func readOnlyDSN(path string) string {
	return sqlitefile.ReadOnlyURI(path) + "&_pragma=busy_timeout(10000)&_pragma=query_only(1)"
}

// readFormat checks the format marker without writing one, and says
// whether the archive is encrypted (see parseMarker).
func readFormat(dir string) (encrypted bool, err error) {
	path := filepath.Join(dir, formatFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("%s: %w", dir, ErrNoArchive)
	}
	if err != nil {
		return false, fmt.Errorf("read format marker: %w", err)
	}
	encrypted, err = parseMarker(string(data))
	if err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	return encrypted, nil
}

// parseMarker reads a format marker: "mailkeep-archive 1" is a plain
// archive, "mailkeep-archive 2 age" an encrypted one; anything else is an
// error wrapping ErrFormat.
func parseMarker(data string) (encrypted bool, err error) {
	marker := strings.TrimSpace(data)
	f := strings.Fields(marker)
	if len(f) < 2 || f[0] != formatMagic {
		return false, fmt.Errorf("%w: not a mailkeep archive marker: %q", ErrFormat, marker)
	}
	v, err := strconv.Atoi(f[1])
	switch {
	case err != nil:
		return false, fmt.Errorf("%w: not a mailkeep archive marker: %q", ErrFormat, marker)
	case v == FormatVersion && len(f) == 2:
		return false, nil
	case v == FormatVersionEncrypted && len(f) == 3 && f[2] == formatEncryption:
		return true, nil
	case v == FormatVersion || v == FormatVersionEncrypted:
		return false, fmt.Errorf("%w: unknown marker %q", ErrFormat, marker)
	}
	return false, fmt.Errorf("%w: version %d (this mailkeep reads versions %d and %d)", ErrFormat, v,
		FormatVersion, FormatVersionEncrypted)
}

// checkSchema returns the catalog's schema version, and refuses a catalog
// that is newer than this build, or empty.
func checkSchema(ctx context.Context, db *sql.DB) (int, error) {
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, err
	}
	switch {
	case v > schemaVersion:
		return v, fmt.Errorf("%w: catalog schema %d is newer than this mailkeep (%d)", ErrFormat, v, schemaVersion)
	case v == 0:
		return v, ErrNoArchive
	}
	return v, nil
}

// Runs returns the account's runs, newest first.
func (s *Snapshot) Runs(ctx context.Context) ([]Run, error) { return s.cat.Runs(ctx, -1) }

// LastRun returns the newest run whose outcome is one of outcomes; ok is
// false when there is none.
func (s *Snapshot) LastRun(ctx context.Context, outcomes ...string) (Run, bool, error) {
	return s.cat.LastRun(ctx, outcomes...)
}

// FirstRun returns the oldest run; ok is false when there is none.
func (s *Snapshot) FirstRun(ctx context.Context) (Run, bool, error) { return s.cat.FirstRun(ctx) }

// Gone says whether a view holds messages the server no longer had.
type Gone int

const (
	GoneNo   Gone = iota // only what the server had (the default)
	GoneToo              // what the server had, and what it had deleted by then
	GoneOnly             // only what the server had deleted by then
)

// View chooses the state Folders and Messages answer with. The zero View
// is the latest state: what the last run of each folder saw.
type View struct {
	Run  int64 // the state as of this run; 0: the latest
	Gone Gone
}

// ViewFolder is a folder as a view finds it: its catalog row, and how many
// messages of the view it holds and their size.
type ViewFolder struct {
	FolderState
	Count int
	Bytes int64
}

// Folders returns the folders of the view, in name order, with the number
// and size of their messages in it. They are counted in one pass over the
// table in its own order: through an index of the folder, each row would
// be a lookup in another place of the file (8.7 s instead of about 1 s
// for a million messages, measured). A view with gone messages also holds
// the folders the server had deleted by then.
func (s *Snapshot) Folders(ctx context.Context, v View) ([]ViewFolder, error) {
	where, args := folderPresence(v)
	present, pargs := messagePresence(v)
	rows, err := s.cat.db.QueryContext(ctx, `SELECT `+folderCols+`, `+specialUseCol(s.cat.version)+`,
		COALESCE(c.n, 0), COALESCE(c.bytes, 0)
		FROM folders f LEFT JOIN (SELECT m.folder_id, COUNT(*) AS n, SUM(m.size) AS bytes
			FROM messages m NOT INDEXED WHERE `+present+` GROUP BY m.folder_id) c ON c.folder_id = f.id
		WHERE `+where+` ORDER BY f.name`, slices.Concat(pargs, args)...)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []ViewFolder
	for rows.Next() {
		var f ViewFolder
		var use string
		f.FolderState, err = scanFolder(extraScanner{rows, []any{&use, &f.Count, &f.Bytes}})
		if err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		f.SpecialUse = use
		out = append(out, f)
	}
	return out, rows.Err()
}

// flagsAt are the flags of message m at run ?, from flag_history.
const flagsAt = `COALESCE((SELECT h.flags FROM flag_history h WHERE h.message = m.id AND h.run <= ?
		ORDER BY h.run DESC LIMIT 1), m.flags)`

// viewCols are msgCols with the flags taken from flag_history at run ?.
const viewCols = `m.id, m.folder_id, m.uidvalidity, m.uid, COALESCE(m.uidl, ''), m.key, m.file, m.sha256,
	m.size, m.vsize, m.internaldate, ` + flagsAt + `,
	m.message_id, m.first_run, m.last_run, COALESCE(m.gone_run, 0)`

// viewColumns are the columns of the view's messages and their arguments:
// for the latest state the flags are the row's (the newest flag_history
// entry of a row is its flags), for a run's they come from flag_history.
func viewColumns(v View) (string, []any) {
	if v.Run == 0 {
		return latestCols, nil
	}
	return viewCols, []any{v.Run}
}

// Messages returns the messages of a folder in the view, in server order
// (UIDVALIDITY, UID, then arrival), with the flags they had then. One
// query: a backup committing meanwhile cannot give a mix of two states.
func (s *Snapshot) Messages(ctx context.Context, folderID int64, v View) ([]Message, error) {
	flagRun := v.Run
	if v.Run == 0 {
		flagRun = 1<<63 - 1
	}
	present, pargs := messagePresence(v)
	return collectSummed(s.cat.db.QueryContext(ctx, `SELECT `+viewCols+`, `+fileSumCol(s.cat.version)+` FROM messages m
		WHERE m.folder_id = ? AND `+present+` ORDER BY m.uidvalidity, m.uid, m.id`,
		slices.Concat([]any{flagRun, folderID}, pargs)...))
}

// EachMessage hands fn the messages of a folder in the view, in the order
// of Messages, with the flags they had then, read eachPage rows at a time:
// memory holds one page whatever the folder's size, and fn may use the
// Snapshot. Each page is its own query, so a backup committing meanwhile
// may show in the pages after it (a message it added, flags it recorded,
// a message it found gone left out); no message comes twice, and none
// that both states hold is left out. An error fn returns ends the reading
// and is returned.
func (s *Snapshot) EachMessage(ctx context.Context, folderID int64, v View, fn func(Message) error) error {
	// The latest flags are the row's: reading them from flag_history, as
	// for a past run, doubles the cost of the query.
	cols, colArgs := viewColumns(v)
	present, pargs := messagePresence(v)
	var after Message
	for {
		page, err := pageAfter(after, eachPage, func(cond string, args []any, limit int) ([]Message, error) {
			return collectSummed(s.cat.db.QueryContext(ctx, `SELECT `+cols+`, `+fileSumCol(s.cat.version)+
				` FROM `+folderPage(present+` AND `+cond), slices.Concat(colArgs, []any{folderID}, pargs, args, []any{limit})...))
		})
		if err != nil {
			return err
		}
		for _, m := range page {
			if err := fn(m); err != nil {
				return err
			}
		}
		if len(page) < eachPage {
			return nil
		}
		after = page[len(page)-1]
	}
}

// FolderFlags returns each set of flags that messages of a folder have in
// the view, once: what a writer of the folder's keywords file needs to
// know before the messages, without reading their rows.
func (s *Snapshot) FolderFlags(ctx context.Context, folderID int64, v View) ([][]string, error) {
	flags, args := `m.flags`, []any{}
	if v.Run != 0 {
		flags, args = flagsAt, []any{v.Run}
	}
	present, pargs := messagePresence(v)
	rows, err := s.cat.db.QueryContext(ctx, `SELECT DISTINCT `+flags+` FROM messages m WHERE m.folder_id = ? AND `+present+` ORDER BY 1`,
		slices.Concat(args, []any{folderID}, pargs)...)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		out = append(out, SplitFlags(f))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return out, nil
}

// eachPage is how many rows EachMessage reads per query.
var eachPage = 512

// MessagesOf returns the catalog rows ids, with the flags they had in the
// view, in no particular order; an id the catalog no longer holds (a
// prune took it) is left out. A restore reads the rows it sends this way,
// a page at a time, after EachIdentity gave it the folder's list.
func (s *Snapshot) MessagesOf(ctx context.Context, ids []int64, v View) ([]Message, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	flagRun := v.Run
	if v.Run == 0 {
		flagRun = 1<<63 - 1
	}
	args := make([]any, 0, len(ids)+1)
	args = append(args, flagRun)
	for _, id := range ids {
		args = append(args, id)
	}
	return collectSummed(s.cat.db.QueryContext(ctx, `SELECT `+viewCols+`, `+fileSumCol(s.cat.version)+` FROM messages m
		WHERE m.id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`, args...))
}

// Identity is what a message is recognized by on a server that holds it:
// its catalog row, Message-ID ("" if none), and sizes as stored and with
// CRLF line ends.
type Identity struct {
	ID          int64
	MessageID   string
	Size, VSize int64
}

// Identity returns m's identity.
func (m Message) Identity() Identity {
	return Identity{ID: m.ID, MessageID: m.MessageID, Size: m.Size, VSize: m.VSize}
}

// EachIdentity hands fn the identity of each message of a folder in the
// view, in the order of Messages, from one query that reads nothing else
// (no flags, no file names). fn must not use the Snapshot; an error it
// returns ends the reading and is returned.
func (s *Snapshot) EachIdentity(ctx context.Context, folderID int64, v View, fn func(Identity) error) error {
	present, pargs := messagePresence(v)
	rows, err := s.cat.db.QueryContext(ctx, `SELECT m.id, m.message_id, m.size, m.vsize FROM messages m
		WHERE m.folder_id = ? AND `+present+` ORDER BY m.uidvalidity, m.uid, m.id`,
		slices.Concat([]any{folderID}, pargs)...)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var m Identity
		if err := rows.Scan(&m.ID, &m.MessageID, &m.Size, &m.VSize); err != nil {
			return fmt.Errorf("catalog: %w", err)
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	return nil
}

// Folder returns the Maildir of a folder of the view, to open its messages.
// A folder that a prune took after st was read is an error wrapping
// ErrPruned, and so is a message of it (see OpenMessage).
func (s *Snapshot) Folder(st FolderState) (*Folder, error) {
	if s.open != nil {
		return remoteFolder(st, s.open, s.codec), nil
	}
	f, err := openFolder(s.dir, st, s.codec)
	if err != nil {
		if prune, ok := s.cat.prunedBy(context.Background(), st.ID, "", nil); ok {
			return nil, prunedError(fmt.Sprintf("folder %q", st.Name), prune)
		}
		return nil, err
	}
	f.prunedBy = func(m Message) (int64, bool) {
		return s.cat.prunedBy(context.Background(), m.FolderID, m.Key, m.SHA256[:])
	}
	return f, nil
}

// Presence over time, as doc/design.md ("Catalog") gives it: a message was
// on the server at run R when first_run ≤ R and its gone_run is empty or
// later than R. A message that POP3 delete mode removed from the server
// (server_deleted_run) left because mailkeep took it, not because the user
// deleted it: it counts as present from its first run on.

// messagePresence is the view's rule as SQL over messages m, with its
// arguments.
func messagePresence(v View) (string, []any) {
	const kept = `m.server_deleted_run IS NOT NULL`
	if v.Run == 0 {
		switch v.Gone {
		case GoneToo:
			return `1`, nil
		case GoneOnly:
			return `(m.gone_run IS NOT NULL AND ` + `m.server_deleted_run IS NULL)`, nil
		}
		return `(m.gone_run IS NULL OR ` + kept + `)`, nil
	}
	switch v.Gone {
	case GoneToo:
		return `m.first_run <= ?`, []any{v.Run}
	case GoneOnly:
		return `m.first_run <= ? AND m.gone_run <= ? AND m.server_deleted_run IS NULL`, []any{v.Run, v.Run}
	}
	return `m.first_run <= ? AND (m.gone_run IS NULL OR m.gone_run > ? OR ` + kept + `)`, []any{v.Run, v.Run}
}

// folderPresence is the view's rule as SQL over folders f.
func folderPresence(v View) (string, []any) {
	switch {
	case v.Run == 0 && v.Gone != GoneNo:
		return `1`, nil
	case v.Run == 0:
		return `f.gone_run IS NULL`, nil
	case v.Gone != GoneNo:
		return `f.first_run <= ?`, []any{v.Run}
	}
	return `f.first_run <= ? AND (f.gone_run IS NULL OR f.gone_run > ?)`, []any{v.Run, v.Run}
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
	return oneRun(c.db.QueryRowContext(ctx, `SELECT `+runCols+` FROM runs WHERE outcome IN (`+marks+`)
		ORDER BY id DESC LIMIT 1`, args...))
}

// FirstRun returns the oldest run of any outcome; ok is false when there
// is none.
func (c *Catalog) FirstRun(ctx context.Context) (r Run, ok bool, err error) {
	return oneRun(c.db.QueryRowContext(ctx, `SELECT `+runCols+` FROM runs ORDER BY id LIMIT 1`))
}

func oneRun(row *sql.Row) (Run, bool, error) {
	r, err := scanRun(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, false, nil
	}
	if err != nil {
		return Run{}, false, fmt.Errorf("catalog: %w", err)
	}
	return r, true, nil
}
