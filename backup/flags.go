package backup

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/emersion/go-imap/v2"

	"github.com/mailkeep/mailkeep/archive"
)

// syncFlags picks up flag changes on messages already archived: with
// CONDSTORE only those changed since the last run's HIGHESTMODSEQ,
// otherwise the flags of every message.
func (fs *folderSync) syncFlags(ctx context.Context, server uidList) error {
	if fs.sel.NumMessages == 0 || fs.from == 0 && (len(fs.known) == 0 || server.len() == 0) {
		return nil
	}
	opts := &imap.FetchOptions{UID: true, Flags: true, GmailLabels: fs.gmail}
	set := server.set()
	if fs.condstr && fs.state.HighestModSeq > 0 && fs.state.UIDValidity == fs.sel.UIDValidity {
		opts.ChangedSince = fs.state.HighestModSeq
		set = imap.UIDSet{{Start: 1, Stop: 0}}
	}
	changed, err := fs.fetchFlags(ctx, set, opts)
	if err != nil {
		return err
	}
	return fs.applyFlags(ctx, changed)
}

// flagChange is an archived message whose server flags differ from the
// catalog's.
type flagChange struct {
	m     archive.Message
	flags []string
}

// fetchFlags returns the messages whose server flags differ from the
// catalog's. It compares a chunk of answers at a time, so that memory
// stays bounded however many messages the server reports.
func (fs *folderSync) fetchFlags(ctx context.Context, set imap.UIDSet, opts *imap.FetchOptions) ([]flagChange, error) {
	cmd := fs.w.c.Fetch(set, opts)
	defer cmd.Close()
	var changed []flagChange
	seen := map[uint32][]string{}
	labels := map[uint32][]string{} // with X-GM-EXT-1
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		buf, err := msg.Collect()
		if err != nil {
			return nil, fmt.Errorf("fetch flags: %w", err)
		}
		if buf.UID == 0 || !fs.isKnown(buf.UID) {
			continue
		}
		fs.dog.touch()
		seen[uint32(buf.UID)] = flagStrings(buf.Flags)
		if buf.GmailLabels != nil {
			labels[uint32(buf.UID)] = sortedLabels(buf.GmailLabels)
		}
		if len(seen) >= uidChunk {
			if changed, err = fs.compareFlags(ctx, seen, changed); err == nil {
				err = fs.syncLabels(ctx, labels)
			}
			if err != nil {
				return nil, err
			}
			clear(seen)
			clear(labels)
		}
	}
	if err := cmd.Close(); err != nil {
		return nil, fmt.Errorf("fetch flags: %w", err)
	}
	if err := fs.syncLabels(ctx, labels); err != nil {
		return nil, err
	}
	return fs.compareFlags(ctx, seen, changed)
}

// uidChunk is how many flag answers fetchFlags compares at a time.
const uidChunk = 1000

// compareFlags appends to changed the messages of seen (UID to server
// flags) that the catalog holds as present with other flags.
func (fs *folderSync) compareFlags(ctx context.Context, seen map[uint32][]string, changed []flagChange) ([]flagChange, error) {
	if len(seen) == 0 {
		return changed, nil
	}
	uids := slices.Sorted(maps.Keys(seen))
	rows, err := fs.w.a.Catalog.PresentByUID(ctx, fs.state.ID, fs.sel.UIDValidity, uids)
	if err != nil {
		return nil, fatal(err)
	}
	for _, uid := range uids {
		if m, ok := rows[uid]; ok && !slices.Equal(seen[uid], m.Flags) {
			changed = append(changed, flagChange{m: m, flags: seen[uid]})
		}
	}
	return changed, nil
}

// applyFlags renames the changed files, makes the renames durable, then
// records the new flags.
func (fs *folderSync) applyFlags(ctx context.Context, changed []flagChange) error {
	if len(changed) == 0 {
		return nil
	}
	var ups []archive.FlagUpdate
	for _, ch := range changed {
		file, err := fs.renameFlags(ch.m, ch.flags)
		if err != nil {
			return fatal(err)
		}
		ups = append(ups, archive.FlagUpdate{ID: ch.m.ID, Flags: ch.flags, File: file})
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
	letters := fs.f.Letters(flags)
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
