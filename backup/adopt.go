package backup

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/mailkeep/mailkeep/archive"
)

// resumePrune finishes what an interrupted prune left on disk before the
// run adopts anything, so that no file the prune took comes back as an
// orphan (see archive.Writer.ResumePrune).
func resumePrune(ctx context.Context, a *archive.Writer, log *slog.Logger) error {
	res, err := a.ResumePrune(ctx)
	if err != nil {
		return fatal(fmt.Errorf("finish an interrupted prune: %w", err))
	}
	if res.Leftovers > 0 {
		log.Info("finished an interrupted prune", "removed", res.Leftovers, "bytes", res.LeftoverBytes)
	}
	return nil
}

// adoptOrphans records complete message files that have no catalog row: a
// crash after a batch's files were published but before its rows were
// committed leaves such files, and they are as good as fetched. The key
// gives back the IMAP UIDs or the POP3 identity; the rest comes from the
// batch's staged rows in an encrypted archive (so a backup needs no
// identity), else from the file (archive.Writer.AdoptOrphans). A file that
// a prune took out of the catalog is not an orphan: it is deleted, never
// adopted. The folder is scanned only when a run that did not end cleanly
// came after its last clean sync (archive.Catalog.MayHaveOrphans):
// scanning a big folder on every run would cost more than the rest of an
// incremental run.
func adoptOrphans(ctx context.Context, a *archive.Writer, f *archive.Folder, run int64, folderID int64) error {
	may, err := a.Catalog.MayHaveOrphans(ctx, folderID, run)
	if err != nil || !may {
		return err
	}
	_, err = a.AdoptOrphans(ctx, f, folderID, run)
	return err
}

// adoptFirst adopts, before any folder is synced, the orphans of every
// listed folder the catalog knows that may have some (see adoptOrphans),
// and returns those folders: their syncs do not scan for orphans again.
// So a content that a killed run published in one folder is in the
// catalog before the folders synced beside it store it: they link to it
// instead of storing it again.
func adoptFirst(ctx context.Context, a *archive.Writer, folders []serverFolder, run int64) (map[int64]bool, error) {
	done := map[int64]bool{}
	for _, f := range folders {
		if f.known.ID == 0 {
			continue
		}
		may, err := a.Catalog.MayHaveOrphans(ctx, f.known.ID, run)
		if err != nil {
			return nil, fatal(err)
		}
		if !may {
			continue
		}
		af, err := a.Folder(f.name, f.delim)
		if err != nil {
			return nil, fatal(err)
		}
		if err := adoptOrphans(ctx, a, af, run, f.known.ID); err != nil {
			return nil, fatal(err)
		}
		done[f.known.ID] = true
	}
	return done, nil
}
