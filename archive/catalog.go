package archive

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mailkeep/mailkeep/internal/sqlitefile"
)

// schemaVersion is the catalog schema this build writes (PRAGMA user_version).
const schemaVersion = goneSchema

// pruneSchema is the first schema with the prune tables; a read-only
// catalog of an older schema has none, and nothing was pruned from it.
const pruneSchema = 4

// listingSchema is the first schema with folders.special_use and
// account_meta; a read-only catalog of an older schema has no special-use
// attributes and no namespace.
const listingSchema = 5

// encryptionSchema is the first schema with messages.file_sha256
// and the staged table (see encryptionTables).
const encryptionSchema = 6

// pop3Schema is the first schema with the POP3 indexes (see pop3Indexes).
// They only make lookups faster: a read-only catalog of an older schema
// answers the same queries by scanning.
const pop3Schema = 8

// goneSchema is the first schema with the index of gone messages (see
// goneIndex). Like the POP3 indexes it only makes lookups faster.
const goneSchema = 9

// refetchTable records messages whose archived copy verify --repair set
// aside while the server still had them: the next backup fetches them
// again, and until it has, verify reports them.
const refetchTable = `CREATE TABLE refetch (
	folder_id INTEGER NOT NULL REFERENCES folders(id),
	key TEXT NOT NULL,
	detail TEXT NOT NULL,
	since TEXT NOT NULL,
	PRIMARY KEY (folder_id, key)
)`

// accountMetaTable holds facts about the source account, one value per
// key (see catalog_account.go).
const accountMetaTable = `CREATE TABLE account_meta (
	key TEXT PRIMARY KEY,
	value TEXT NOT NULL
)`

// pruneTables record what prune removed: one prunes row per prune, and
// one pruned row per message and per folder it took out of the catalog.
// An entry is pending (done = 0) from the transaction that deletes its
// catalog rows until its file or directory is gone from the disk; until
// then no writer may adopt the file again (see Writer.Prune). Entries stay
// afterwards, so that a reader holding a row can be told that its message
// was pruned. folder_id is not a reference: a pruned folder's row is gone.
const pruneTables = `CREATE TABLE prunes (
	id INTEGER PRIMARY KEY,
	started TEXT NOT NULL,
	ended TEXT,
	outcome TEXT NOT NULL,
	messages INTEGER NOT NULL DEFAULT 0,
	bytes INTEGER NOT NULL DEFAULT 0,
	disk_bytes INTEGER NOT NULL DEFAULT 0,
	folders INTEGER NOT NULL DEFAULT 0,
	runs_merged INTEGER NOT NULL DEFAULT 0,
	oldest_run INTEGER NOT NULL DEFAULT 0,
	error TEXT
);
CREATE TABLE pruned (
	prune INTEGER NOT NULL REFERENCES prunes(id),
	folder_id INTEGER NOT NULL,
	folder TEXT NOT NULL,
	dir TEXT NOT NULL,
	key TEXT NOT NULL,
	sha256 BLOB,
	size INTEGER NOT NULL DEFAULT 0,
	done INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (prune, folder_id, key)
);
CREATE INDEX pruned_key ON pruned (folder_id, key);
CREATE INDEX pruned_pending ON pruned (dir) WHERE done = 0`

// encryptionTables adds what an encrypted archive records (doc/design.md,
// "Encryption at rest"): the SHA-256 of each message file as stored, which
// checks the file without the identity, and the staged table. A batch's
// rows are staged before its files are published in an encrypted archive,
// so that a file a crash leaves without a row can be adopted without
// decrypting it. The step is self-contained: it renumbers by changing
// encryptionSchema.
const encryptionTables = `ALTER TABLE messages ADD COLUMN file_sha256 BLOB;
CREATE TABLE staged (
	folder_id INTEGER NOT NULL REFERENCES folders(id),
	key TEXT NOT NULL,
	uidvalidity INTEGER NOT NULL,
	uid INTEGER NOT NULL,
	uidl TEXT,
	file TEXT NOT NULL,
	sha256 BLOB NOT NULL,
	size INTEGER NOT NULL,
	vsize INTEGER NOT NULL,
	internaldate TEXT NOT NULL,
	flags TEXT NOT NULL,
	message_id TEXT NOT NULL,
	file_sha256 BLOB NOT NULL,
	PRIMARY KEY (folder_id, key)
)`

// pop3Indexes let a POP3 run look up the rows of the identities it lists
// and the messages its last QUIT deleted, without reading every row of the
// folder (see Catalog.POP3ByIdentity). IMAP rows have no UIDL and are in
// neither index. The step is self-contained: it renumbers by changing
// pop3Schema.
const pop3Indexes = `CREATE INDEX messages_uidl ON messages (folder_id, uidl) WHERE uidl IS NOT NULL;
CREATE INDEX messages_deleted ON messages (folder_id, server_deleted_run)
	WHERE server_deleted_run IS NOT NULL AND gone_run IS NULL`

// goneIndex finds a folder's gone messages without reading its other rows:
// whether a folder has any (Catalog.HasGone, asked by every IMAP sync that
// fetches) took a walk over every row of a folder without one, 500,000 in
// the bench's biggest. The step is self-contained: it renumbers by
// changing goneSchema.
const goneIndex = `CREATE INDEX messages_gone ON messages (folder_id) WHERE gone_run IS NOT NULL`

// migrations[v] upgrades a catalog of schema v to v+1.
var migrations = map[int]string{
	1:                    `ALTER TABLE folders ADD COLUMN clean_run INTEGER NOT NULL DEFAULT 0`,
	2:                    refetchTable,
	pruneSchema - 1:      pruneTables,
	listingSchema - 1:    `ALTER TABLE folders ADD COLUMN special_use TEXT NOT NULL DEFAULT '';` + accountMetaTable,
	encryptionSchema - 1: encryptionTables,
	gmailSchema - 1:      contentColumns,
	pop3Schema - 1:       pop3Indexes,
	goneSchema - 1:       goneIndex,
}

// created are the statements that make a new catalog of schemaVersion.
var created = []string{schema, refetchTable, pruneTables, accountMetaTable, encryptionTables, contentColumns, pop3Indexes,
	goneIndex}

const schema = `
CREATE TABLE runs (
	id INTEGER PRIMARY KEY,
	kind TEXT NOT NULL,
	started TEXT NOT NULL,
	ended TEXT,
	outcome TEXT NOT NULL,
	folders INTEGER NOT NULL DEFAULT 0,
	new_messages INTEGER NOT NULL DEFAULT 0,
	new_bytes INTEGER NOT NULL DEFAULT 0,
	flag_updates INTEGER NOT NULL DEFAULT 0,
	gone INTEGER NOT NULL DEFAULT 0,
	errors INTEGER NOT NULL DEFAULT 0,
	error TEXT
);
CREATE TABLE folders (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	delim TEXT NOT NULL,
	dir TEXT NOT NULL UNIQUE,
	uidvalidity INTEGER NOT NULL DEFAULT 0,
	uidnext INTEGER NOT NULL DEFAULT 0,
	highestmodseq INTEGER NOT NULL DEFAULT 0,
	messages INTEGER NOT NULL DEFAULT 0,
	first_run INTEGER NOT NULL,
	last_run INTEGER NOT NULL,
	gone_run INTEGER,
	clean_run INTEGER NOT NULL DEFAULT 0,
	special_use TEXT NOT NULL DEFAULT ''
);
CREATE TABLE messages (
	id INTEGER PRIMARY KEY,
	folder_id INTEGER NOT NULL REFERENCES folders(id),
	uidvalidity INTEGER NOT NULL,
	uid INTEGER NOT NULL,
	uidl TEXT,
	key TEXT NOT NULL,
	file TEXT NOT NULL,
	sha256 BLOB NOT NULL,
	size INTEGER NOT NULL,
	vsize INTEGER NOT NULL,
	internaldate TEXT NOT NULL,
	flags TEXT NOT NULL,
	message_id TEXT NOT NULL,
	first_run INTEGER NOT NULL,
	last_run INTEGER NOT NULL,
	gone_run INTEGER,
	server_deleted_run INTEGER,
	UNIQUE (folder_id, key)
);
CREATE INDEX messages_uid ON messages (folder_id, uidvalidity, uid);
CREATE INDEX messages_sha ON messages (folder_id, sha256);
CREATE TABLE flag_history (
	message INTEGER NOT NULL REFERENCES messages(id),
	run INTEGER NOT NULL,
	flags TEXT NOT NULL,
	PRIMARY KEY (message, run)
);
`

// Catalog is an account's index of folders, messages and runs.
type Catalog struct {
	db      *sql.DB
	version int      // the schema: schemaVersion, or older for a read-only catalog
	stmts   sync.Map // query text → *sql.Stmt, for the queries a backup makes per message
}

// OpenCatalog opens (creating if needed) the catalog at path. Commits are
// durable (synchronous=FULL): POP3 delete mode relies on a committed row.
// A new catalog is created owner-only, and SQLite gives its -wal and -shm
// files the same mode. The WAL is kept when the catalog closes
// (SQLITE_FCNTL_PERSIST_WAL), so that readers, who open it read-only,
// always find the -wal and -shm files they need and never create them.
func OpenCatalog(ctx context.Context, path string) (*Catalog, error) {
	if err := createFile(path, private.file); err != nil {
		return nil, fmt.Errorf("create catalog: %w", err)
	}
	db, err := sqlitefile.OpenWriter(path, "_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"+
		"&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)&_pragma=journal_size_limit(67108864)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open catalog: %w", err)
	}
	c := &Catalog{db: db, version: schemaVersion}
	if err := c.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("catalog %s: %w", path, err)
	}
	return c, nil
}

func (c *Catalog) migrate(ctx context.Context) error {
	var v int
	if err := c.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	switch {
	case v == schemaVersion:
		return nil
	case v > schemaVersion:
		return fmt.Errorf("%w: catalog schema %d is newer than this mailkeep (%d)", ErrFormat, v, schemaVersion)
	}
	return c.tx(ctx, func(tx *sql.Tx) error {
		steps := created
		if v > 0 {
			steps = nil
			for ; v < schemaVersion; v++ {
				steps = append(steps, migrations[v])
			}
		}
		for _, q := range steps {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion))
		return err
	})
}

// Close closes the database.
func (c *Catalog) Close() error {
	c.stmts.Range(func(_, v any) bool { v.(*sql.Stmt).Close(); return true })
	return c.db.Close()
}

// queryPrepared runs a query that a backup makes for each message,
// prepared once: SQLite's parsing of it would otherwise cost more than
// running it.
func (c *Catalog) queryPrepared(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	v, ok := c.stmts.Load(q)
	if !ok {
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			return nil, err
		}
		if v, ok = c.stmts.LoadOrStore(q, st); ok {
			st.Close()
		}
	}
	return v.(*sql.Stmt).QueryContext(ctx, args...)
}

func (c *Catalog) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return wrapCatalog(err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return wrapCatalog(err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("catalog commit: %w", sqlitefile.Err(err))
	}
	return nil
}

// Run outcomes.
const (
	OutcomeRunning     = "running"
	OutcomeOK          = "ok"
	OutcomePartial     = "partial"
	OutcomeFailed      = "failed"
	OutcomeInterrupted = "interrupted"
)

// RunStats are the counts a run records.
type RunStats struct {
	Folders, NewMessages, FlagUpdates, Gone, Errors int
	NewBytes                                        int64
	// ServerDeleted counts the messages a POP3 run deleted from the server
	// (after QUIT was answered +OK). It is not a column of runs: the
	// messages' server_deleted_run records it.
	ServerDeleted int
	// Of the new messages, Linked were stored as a hard link to content
	// the account's archive already held (see Folder.StageLink), which
	// saved SavedBytes of disk (the size of their files); NotDownloaded
	// were not even downloaded, because Gmail's X-GM-MSGID named content
	// the archive held. None of the three is a column of runs.
	Linked, NotDownloaded int
	SavedBytes            int64
}

// Run is one row of the runs table.
type Run struct {
	ID      int64
	Kind    string
	Started time.Time
	Ended   time.Time
	Outcome string
	Error   string
	RunStats
}

const timeLayout = time.RFC3339Nano

// markInterrupted marks the runs a crashed process left "running" as
// interrupted (the caller holds the account lock).
func markInterrupted(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `UPDATE runs SET outcome = ? WHERE outcome = ?`, OutcomeInterrupted, OutcomeRunning)
	return err
}

// BeginRun records a run as started and marks runs left "running" by a
// crashed process as interrupted (the caller holds the account lock).
func (c *Catalog) BeginRun(ctx context.Context, kind string, now time.Time) (int64, error) {
	var id int64
	err := c.tx(ctx, func(tx *sql.Tx) error {
		if err := markInterrupted(ctx, tx); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO runs (kind, started, outcome) VALUES (?, ?, ?)`,
			kind, now.UTC().Format(timeLayout), OutcomeRunning)
		if err != nil {
			return err
		}
		id, err = res.LastInsertId()
		return err
	})
	return id, err
}

// FinishRun records a run's outcome and counts; it is the run's last write.
func (c *Catalog) FinishRun(ctx context.Context, id int64, outcome string, st RunStats, runErr error, now time.Time) error {
	msg := ""
	if runErr != nil {
		msg = runErr.Error()
	}
	return c.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE runs SET ended = ?, outcome = ?, folders = ?, new_messages = ?,
			new_bytes = ?, flag_updates = ?, gone = ?, errors = ?, error = ? WHERE id = ?`,
			now.UTC().Format(timeLayout), outcome, st.Folders, st.NewMessages, st.NewBytes,
			st.FlagUpdates, st.Gone, st.Errors, msg, id)
		return err
	})
}

const runCols = `id, kind, started, COALESCE(ended, ''), outcome, folders, new_messages, new_bytes,
	flag_updates, gone, errors, COALESCE(error, '')`

// Runs returns the most recent runs, newest first; limit < 0 means all.
func (c *Catalog) Runs(ctx context.Context, limit int) ([]Run, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT `+runCols+` FROM runs ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
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

// joinFlags stores a flag list as one space-separated text.
func joinFlags(flags []string) string { return strings.Join(flags, " ") }

// SplitFlags inverts joinFlags.
func SplitFlags(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, " ")
}

var errNoRows = sql.ErrNoRows

func isNoRows(err error) bool { return errors.Is(err, errNoRows) }
