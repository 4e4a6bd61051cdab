package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/emersion/go-imap/v2"

	"github.com/mailkeep/mailkeep/archive"
)

// syncFlags picks up flag changes on messages already archived: with
// CONDSTORE only those changed since the last run's HIGHESTMODSEQ,
// otherwise the flags of every message.
func (fs *folderSync) syncFlags(ctx context.Context, server []imap.UID) error {
	if len(fs.byUID) == 0 || len(server) == 0 {
		return nil
	}
	opts := &imap.FetchOptions{UID: true, Flags: true}
	set := imap.UIDSetNum(server...)
	if fs.condstr && fs.state.HighestModSeq > 0 && fs.state.UIDValidity == fs.sel.UIDValidity {
		opts.ChangedSince = fs.state.HighestModSeq
		set = imap.UIDSet{{Start: 1, Stop: 0}}
	}
	changed, err := fs.fetchFlags(set, opts)
	if err != nil {
		return err
	}
	return fs.applyFlags(ctx, changed)
}

// fetchFlags returns the messages whose server flags differ from the catalog's.
func (fs *folderSync) fetchFlags(set imap.UIDSet, opts *imap.FetchOptions) (map[imap.UID][]string, error) {
	cmd := fs.w.c.Fetch(set, opts)
	defer cmd.Close()
	changed := map[imap.UID][]string{}
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		buf, err := msg.Collect()
		if err != nil {
			return nil, fmt.Errorf("fetch flags: %w", err)
		}
		m, ok := fs.byUID[buf.UID]
		if ok {
			fs.dog.touch()
		}
		flags := flagStrings(buf.Flags)
		if ok && m.GoneRun == 0 && !slices.Equal(flags, m.Flags) {
			changed[buf.UID] = flags
		}
	}
	if err := cmd.Close(); err != nil {
		return nil, fmt.Errorf("fetch flags: %w", err)
	}
	return changed, nil
}

// applyFlags renames the changed files, makes the renames durable, then
// records the new flags.
func (fs *folderSync) applyFlags(ctx context.Context, changed map[imap.UID][]string) error {
	if len(changed) == 0 {
		return nil
	}
	var ups []archive.FlagUpdate
	for uid, flags := range changed {
		m := fs.byUID[uid]
		file, err := fs.renameFlags(m, flags)
		if err != nil {
			return fatal(err)
		}
		ups = append(ups, archive.FlagUpdate{ID: m.ID, Flags: flags, File: file})
	}
	if err := fs.f.SyncCur(); err != nil {
		return fatal(err)
	}
	if err := fs.w.a.Catalog.UpdateFlags(ctx, ups, fs.w.run); err != nil {
		return fatal(err)
	}
	fs.w.st.add(func(s *archive.RunStats) { s.FlagUpdates += len(ups) })
	return nil
}

func (fs *folderSync) renameFlags(m archive.Message, flags []string) (string, error) {
	letters, err := fs.f.Letters(flags)
	if err != nil {
		return "", err
	}
	from, err := archive.ParseMessageFile(m.File)
	if err != nil {
		return "", fmt.Errorf("catalog file name %q: %w", m.File, err)
	}
	to, err := fs.f.Rename(from, letters)
	if errors.Is(err, os.ErrNotExist) {
		to, err = fs.renameFound(m.Key, letters)
	}
	return to.Name(), err
}

// renameFound renames the file of key wherever a crash left it.
func (fs *folderSync) renameFound(key, letters string) (archive.MessageFile, error) {
	files, _, err := fs.f.Scan()
	if err != nil {
		return archive.MessageFile{}, err
	}
	mf, ok := files[key]
	if !ok {
		return mf, fmt.Errorf("message file %s is missing from %s", key, fs.f.Dir)
	}
	return fs.f.Rename(mf, letters)
}
