package backup

import (
	"context"

	"github.com/mailkeep/mailkeep/archive"
)

// adoptOrphans records complete message files that have no catalog row: a
// crash after a batch's files were published but before its rows were
// committed leaves such files, and they are as good as fetched. The key
// gives back the IMAP UIDs or the POP3 identity; the rest comes from the
// batch's staged rows in an encrypted archive (so a backup needs no
// identity), else from the file (archive.Writer.AdoptOrphans). The folder
// is scanned only when a run that did not end cleanly came after its last
// clean sync (archive.Catalog.MayHaveOrphans): scanning a big folder on
// every run would cost more than the rest of an incremental run.
func adoptOrphans(ctx context.Context, a *archive.Writer, f *archive.Folder, run int64, folderID int64) error {
	may, err := a.Catalog.MayHaveOrphans(ctx, folderID, run)
	if err != nil || !may {
		return err
	}
	_, err = a.AdoptOrphans(ctx, f, folderID, run)
	return err
}
