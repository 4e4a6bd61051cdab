package backup

import (
	"context"

	"github.com/mailkeep/mailkeep/archive"
)

// adoptOrphans records complete message files that have no catalog row: a
// crash after a batch's files were published but before its rows were
// committed leaves such files, and they are as good as fetched. The key
// gives back the IMAP UIDs or the POP3 identity. The folder is scanned
// only when a run that did not end cleanly came after its last clean sync
// (archive.Catalog.MayHaveOrphans): scanning a big folder on every run
// would cost more than the rest of an incremental run.
func adoptOrphans(ctx context.Context, a *archive.Writer, f *archive.Folder, run int64, folderID int64) error {
	may, err := a.Catalog.MayHaveOrphans(ctx, folderID, run)
	if err != nil || !may {
		return err
	}
	files, _, err := f.Scan()
	if err != nil || len(files) == 0 {
		return err
	}
	known, err := a.Catalog.Keys(ctx, folderID)
	if err != nil {
		return err
	}
	var adopted []archive.Message
	for key, mf := range files {
		if known[key] {
			continue
		}
		m, err := f.Adopt(mf, folderID)
		if err != nil {
			return err
		}
		adopted = append(adopted, m)
	}
	if len(adopted) == 0 {
		return nil
	}
	return a.Catalog.AddMessages(ctx, adopted, run)
}
