package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// listedFile is a published message file as a chunked listing of its
// folder found it, with the file name the catalog records for its key
// ("" when the key has no row).
type listedFile struct {
	MessageFile
	rowFile string
}

// listChunk is how many directory entries a listing holds at a time, and
// so how many keys one catalog lookup asks for.
const listChunk = 1024

// eachListed lists the folder's cur/ a chunk at a time and passes fn the
// message files of each chunk with their rows' file names, so that a pass
// over a big folder holds one chunk, never the whole listing. Names in
// cur/ that are not message files, and everything in new/ (mailkeep never
// writes there), go to other as "cur/<name>" or "new/<name>". fn may
// rename or remove the files it is given.
func (a *Writer) eachListed(ctx context.Context, f *Folder, folderID int64, fn func([]listedFile) error, other func(string)) error {
	err := eachNames(filepath.Join(f.Dir, "new"), func(names []string) error {
		for _, n := range names {
			other("new/" + n)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return eachNames(filepath.Join(f.Dir, "cur"), func(names []string) error {
		chunk := make([]listedFile, 0, len(names))
		keys := make([]string, 0, len(names))
		for _, n := range names {
			mf, err := ParseMessageFile(n)
			if err != nil {
				other("cur/" + n)
				continue
			}
			chunk = append(chunk, listedFile{MessageFile: mf})
			keys = append(keys, mf.Key)
		}
		files, err := a.Catalog.rowFiles(ctx, folderID, keys)
		if err != nil {
			return err
		}
		for i := range chunk {
			chunk[i].rowFile = files[chunk[i].Key]
		}
		return fn(chunk)
	})
}

// eachNames calls fn with the names of dir's entries, listChunk at a
// time: os.ReadDir would hold every entry of a big folder at once.
func eachNames(dir string, fn func([]string) error) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	for {
		names, err := d.Readdirnames(listChunk)
		if len(names) > 0 {
			if ferr := fn(names); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// rowFiles returns, for those of keys that have a row in the folder, the
// file name the row records.
func (c *Catalog) rowFiles(ctx context.Context, folderID int64, keys []string) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	args := make([]any, 0, len(keys)+1)
	args = append(args, folderID)
	for _, k := range keys {
		args = append(args, k)
	}
	q := `SELECT key, file FROM messages WHERE folder_id = ? AND key IN (?` + strings.Repeat(",?", len(keys)-1) + `)`
	rows, err := c.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, f string
		if err := rows.Scan(&k, &f); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		out[k] = f
	}
	return out, wrapCatalog(rows.Err())
}
