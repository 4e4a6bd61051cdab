package backup

import (
	"context"

	"github.com/mailkeep/mailkeep/archive"
)

// adoptOrphans records complete message files that have no catalog row: a
// crash after a batch's files were published but before its rows were
// committed leaves such files, and they are as good as fetched. The key
// gives back the IMAP UIDs or the POP3 identity. rows are the folder's
// catalog rows; it returns the rows it added.
func adoptOrphans(ctx context.Context, a *archive.Account, f *archive.Folder, run int64, folderID int64, rows []archive.Message) ([]archive.Message, error) {
	files, _, err := f.Scan()
	if err != nil || len(files) == 0 {
		return nil, err
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
		m, err := f.Adopt(mf, folderID)
		if err != nil {
			return nil, err
		}
		adopted = append(adopted, m)
	}
	if len(adopted) == 0 {
		return nil, nil
	}
	if err := a.Catalog.AddMessages(ctx, adopted, run); err != nil {
		return nil, err
	}
	return a.Catalog.FolderMessages(ctx, folderID)
}
