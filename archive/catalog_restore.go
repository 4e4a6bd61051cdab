package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

// What a restore reads. Presence and flags over time follow the rules in
// doc/design.md ("Catalog"): a message was on the server at run R when
// first_run ≤ R and its gone_run is empty or later than R, and its flags
// at R are those of its newest flag_history row with run ≤ R. A message
// that POP3 delete mode removed from the server (server_deleted_run) left
// because mailkeep took it, not because the user deleted it: it counts as
// present from its first run on.

// RestoreFolder is a folder as a restore finds it at a run: its catalog
// row, and how many messages it held then and their size.
type RestoreFolder struct {
	FolderState
	Count int
	Bytes int64
}

// RunAt returns the newest run that started at or before t; ok is false
// when every run started later (or there is none).
func (c *Catalog) RunAt(ctx context.Context, t time.Time) (r Run, ok bool, err error) {
	runs, err := c.Runs(ctx, -1)
	if err != nil {
		return Run{}, false, err
	}
	for _, r := range runs { // newest first
		if !r.Started.After(t) {
			return r, true, nil
		}
	}
	return Run{}, false, nil
}

// presentAt is the presence rule as SQL over messages m, for run ?
// (three times), or for the latest state without arguments.
func presentAt(run int64) (string, []any) {
	if run == 0 {
		return `(m.gone_run IS NULL OR m.server_deleted_run IS NOT NULL)`, nil
	}
	return `m.first_run <= ? AND (m.gone_run IS NULL OR m.gone_run > ? OR m.server_deleted_run IS NOT NULL)`,
		[]any{run, run}
}

// RestoreFolders returns the folders the account held at run, in name
// order, with the number and size of the messages each held then. Run 0
// means the latest state: what the last run of each folder saw.
func (c *Catalog) RestoreFolders(ctx context.Context, run int64) ([]RestoreFolder, error) {
	where, args := `f.gone_run IS NULL`, []any{}
	if run > 0 {
		where, args = `f.first_run <= ? AND (f.gone_run IS NULL OR f.gone_run > ?)`, []any{run, run}
	}
	present, pargs := presentAt(run)
	rows, err := c.db.QueryContext(ctx, `SELECT `+folderCols+`,
		(SELECT COUNT(*) FROM messages m WHERE m.folder_id = f.id AND `+present+`),
		(SELECT COALESCE(SUM(m.size), 0) FROM messages m WHERE m.folder_id = f.id AND `+present+`)
		FROM folders f WHERE `+where+` ORDER BY f.name`, slices.Concat(pargs, pargs, args)...)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []RestoreFolder
	for rows.Next() {
		var f RestoreFolder
		f.FolderState, err = scanFolder(extraScanner{rows, []any{&f.Count, &f.Bytes}})
		if err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// restoreCols are msgCols with the flags taken from flag_history at run ?.
const restoreCols = `m.id, m.folder_id, m.uidvalidity, m.uid, COALESCE(m.uidl, ''), m.key, m.file, m.sha256,
	m.size, m.vsize, m.internaldate,
	COALESCE((SELECT h.flags FROM flag_history h WHERE h.message = m.id AND h.run <= ?
		ORDER BY h.run DESC LIMIT 1), m.flags),
	m.message_id, m.first_run, m.last_run, COALESCE(m.gone_run, 0)`

// RestoreMessages returns the messages a folder held at run (0: the
// latest state), in server order, with the flags they had then (for the
// latest state, their current flags). One query: a backup committing
// meanwhile cannot give a mix of two states.
func (c *Catalog) RestoreMessages(ctx context.Context, folderID, run int64) ([]Message, error) {
	flagRun := run
	if run == 0 {
		flagRun = 1<<63 - 1
	}
	present, pargs := presentAt(run)
	return collectMessages(c.db.QueryContext(ctx, `SELECT `+restoreCols+` FROM messages m
		WHERE m.folder_id = ? AND `+present+` ORDER BY m.uidvalidity, m.uid, m.id`,
		slices.Concat([]any{flagRun, folderID}, pargs)...))
}

// ReadFolder returns the Maildir of a catalog folder in the account
// directory dir (<archive>/<account>) for reading. Unlike Account.Folder
// it creates nothing and needs no lock.
func ReadFolder(dir string, st FolderState) (*Folder, error) {
	rel := filepath.FromSlash(st.Dir)
	if !filepath.IsLocal(rel) {
		return nil, fmt.Errorf("folder %q: catalog dir %q lies outside the archive", st.Name, st.Dir)
	}
	f := &Folder{Name: st.Name, Rel: st.Dir, Dir: filepath.Join(dir, mailDir, rel, MaildirLevel)}
	if d := []rune(st.Delim); len(d) > 0 {
		f.Delim = d[0]
	}
	kw, err := f.loadKeywords()
	if err != nil {
		return nil, fmt.Errorf("folder %q: %w", st.Name, err)
	}
	f.kw = kw
	return f, nil
}

// MessageReader decodes catalog messages one after another with one zstd
// decoder (Folder.Open makes a new one per file, which costs more than the
// decoding of a typical message). One MessageReader serves one goroutine.
type MessageReader struct {
	dec *zstd.Decoder
}

// NewMessageReader returns a MessageReader; Close releases it.
func NewMessageReader() (*MessageReader, error) {
	dec, err := zstd.NewReader(nil, decoderOpts...)
	if err != nil {
		return nil, err
	}
	return &MessageReader{dec: dec}, nil
}

// Close releases the decoder.
func (r *MessageReader) Close() { r.dec.Close() }

// Open returns the uncompressed content of message m of folder f, valid
// until the next Open. If the file was renamed after the row was read (a
// backup running meanwhile recorded a flag change), it is found again by
// its key.
func (r *MessageReader) Open(f *Folder, m Message) (io.ReadCloser, error) {
	file, err := f.openRow(m)
	if err != nil {
		return nil, err
	}
	if err := r.dec.Reset(file); err != nil {
		file.Close()
		return nil, fmt.Errorf("%s: %w", m.Key, err)
	}
	return &sharedDecoder{dec: r.dec, file: file}, nil
}

type sharedDecoder struct {
	dec  *zstd.Decoder
	file *os.File
}

func (d *sharedDecoder) Read(p []byte) (int, error) { return d.dec.Read(p) }
func (d *sharedDecoder) Close() error               { return d.file.Close() }

// openRow opens the file of a catalog row, or the file its key has now.
func (f *Folder) openRow(m Message) (*os.File, error) {
	mf, err := ParseMessageFile(m.File)
	if err != nil {
		return nil, err
	}
	file, err := os.Open(f.Path(mf))
	if !errors.Is(err, fs.ErrNotExist) {
		return file, err
	}
	name, ferr := f.findKey(m.Key)
	if ferr != nil {
		return nil, ferr
	}
	return os.Open(filepath.Join(f.Dir, "cur", name))
}

// findKey returns the name of the published file of key in cur/.
func (f *Folder) findKey(key string) (string, error) {
	entries, err := os.ReadDir(filepath.Join(f.Dir, "cur"))
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), key+",") {
			return e.Name(), nil
		}
	}
	return "", fmt.Errorf("%s: no file in %s: %w", key, f.Dir, fs.ErrNotExist)
}
