package backup

import (
	"context"
	"fmt"

	"github.com/mailkeep/mailkeep/archive"
)

// adoptOrphans records complete message files that have no catalog row: a
// crash after a batch's files were published but before its rows were
// committed leaves such files, and they are as good as fetched.
func adoptOrphans(ctx context.Context, a *archive.Account, f *archive.Folder, folderID, run int64) error {
	files, _, err := f.Scan()
	if err != nil {
		return err
	}
	rows, err := a.Catalog.FolderMessages(ctx, folderID)
	if err != nil {
		return err
	}
	known := make(map[string]bool, len(rows))
	for _, m := range rows {
		known[m.Key] = true
	}
	var adopted []archive.Message
	for key, mf := range files {
		if known[key] {
			continue
		}
		m, err := adoptFile(f, mf, folderID)
		if err != nil {
			return err
		}
		adopted = append(adopted, m)
	}
	return a.Catalog.AddMessages(ctx, adopted, run)
}

func adoptFile(f *archive.Folder, mf archive.MessageFile, folderID int64) (archive.Message, error) {
	uv, uid, ok := archive.ParseIMAPKey(mf.Key)
	if !ok {
		return archive.Message{}, fmt.Errorf("%s: file %s has no IMAP key", f.Dir, mf.Name())
	}
	m, err := f.ReadMessage(mf)
	if err != nil {
		return m, fmt.Errorf("adopt %s: %w", mf.Name(), err)
	}
	m.FolderID, m.UIDValidity, m.UID = folderID, uv, uid
	return m, nil
}
