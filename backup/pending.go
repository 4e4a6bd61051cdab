package backup

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/mailkeep/mailkeep/archive"
)

// pending collects fetched messages until a batch is worth making durable:
// files first (archive.Batch.Commit), then their catalog rows.
type pending struct {
	fs    *folderSync
	batch archive.Batch
	rows  []archive.Message
	saved archive.RunStats // Linked, NotDownloaded and SavedBytes of the batch
}

// placeFetched adds a message a writer wrote (on the fetch's placer); one
// that came without a UID is discarded.
func (b *pending) placeFetched(ctx context.Context, j *stageJob[*fetched]) error {
	m := j.meta
	if m.uid == 0 {
		j.st.Discard()
		return nil
	}
	m.staged = j.st
	return b.add(ctx, m)
}

func (b *pending) add(ctx context.Context, m *fetched) error {
	fs := b.fs
	if done, err := b.rekey(ctx, m); done || err != nil {
		return err
	}
	letters := fs.f.Letters(m.flags)
	if m.date.IsZero() {
		m.date = fs.w.opts.Now()
	}
	if err := b.share(ctx, m); err != nil {
		return err
	}
	st := m.staged
	key := archive.IMAPKey(fs.sel.UIDValidity, uint32(m.uid))
	mf, err := b.batch.Add(st, key, letters, m.date)
	if err != nil {
		return fatal(err)
	}
	row := archive.Message{FolderID: fs.state.ID, UIDValidity: fs.sel.UIDValidity,
		UID: uint32(m.uid), Key: key, File: mf.Name(), SHA256: st.SHA256, Size: st.Size, VSize: st.VSize,
		InternalDate: m.date, Flags: m.flags, MessageID: st.MessageID, FileSHA256: st.FileSHA256,
		GmailMsgID: m.msgID, Labels: m.labels}
	b.rows = append(b.rows, row)
	fs.w.contents.stored(st, row)
	if st.Linked {
		b.saved.Linked++
		b.saved.SavedBytes += st.DiskSize
		if m.notDownloaded {
			b.saved.NotDownloaded++
		}
	}
	fs.w.opts.Progress.Message(st.Size)
	if b.batch.Len() >= fs.w.opts.BatchMessages || b.batch.Bytes() >= fs.w.opts.BatchBytes {
		return b.flush(ctx)
	}
	return nil
}

// rekey handles a message whose content the folder holds as gone (under an
// old UIDVALIDITY, or deleted on the server and put back by a restore):
// the stored copy is renumbered instead of stored twice.
func (b *pending) rekey(ctx context.Context, m *fetched) (bool, error) {
	fs := b.fs
	if !fs.rekey {
		return false, nil
	}
	old, ok, err := fs.w.a.Catalog.FindGoneByHash(ctx, fs.state.ID, m.staged.SHA256)
	if err != nil || !ok {
		return false, fatal(err)
	}
	m.staged.Discard()
	if err := fs.w.a.Catalog.Rekey(ctx, old.ID, fs.sel.UIDValidity, uint32(m.uid), fs.w.run); err != nil {
		return true, fatal(err)
	}
	// Known now, so that syncFlags compares its flags too.
	fs.known = archive.InsertUID(fs.known, uint32(m.uid))
	return true, nil
}

// share replaces a downloaded message's own copy by a link to the same
// content with the same INTERNALDATE, when the run or the archive holds
// one: the content is then stored once in the account.
//
// A file of another worker can be renamed into cur/ by its batch between
// the look-up and the link, so that neither path the look-up gave holds it
// any more: the look-up is then made again, and finds the new path, or
// the row the batch has recorded.
func (b *pending) share(ctx context.Context, m *fetched) error {
	if m.staged.Linked {
		return nil
	}
	for range shareLookups {
		cands, err := b.fs.w.contents.bySHA256(ctx, m.staged, m.date)
		if err != nil {
			return fatal(err)
		}
		st, ok, gone := link(b.fs.f, cands)
		if ok {
			m.staged.Discard()
			m.staged = st
		}
		if !gone {
			return nil
		}
	}
	return nil
}

// shareLookups bounds the look-ups of share: a content can move once
// (tmp/ to cur/) before its row is recorded.
const shareLookups = 3

// flush makes the batch's files durable, then records them
// (archive.Writer.Publish). Once they are published, the files belong to
// the archive, not the batch: if recording them fails, the next run
// adopts them.
func (b *pending) flush(ctx context.Context) error {
	if b.batch.Len() == 0 {
		return nil
	}
	n, bytes, saved := b.batch.Len(), b.batch.Bytes(), b.saved
	moves := b.moves()
	b.fs.w.contents.publishing(moves)
	err := b.fs.w.a.Publish(ctx, &b.batch, b.rows, b.fs.w.run)
	rows := b.rows
	b.batch.Reset()
	b.rows, b.saved = nil, archive.RunStats{}
	if err != nil {
		return fatal(err)
	}
	b.fs.recorded(rows)
	b.fs.w.contents.published(moves)
	b.fs.w.contents.recorded(moves)
	b.fs.w.opts.committed()
	b.fs.w.st.add(func(s *archive.RunStats) {
		s.NewMessages += n
		s.NewBytes += bytes
		s.Linked += saved.Linked
		s.NotDownloaded += saved.NotDownloaded
		s.SavedBytes += saved.SavedBytes
	})
	b.fs.dog.touch()
	return nil
}

// moves are the paths the batch's files have now and will have once
// published.
func (b *pending) moves() map[string]string {
	items, names := b.batch.Items()
	out := make(map[string]string, len(items))
	for i, st := range items {
		out[st.Path()] = filepath.Join(st.Folder.Dir, "cur", names[i])
	}
	return out
}

// salvage records the batch's complete messages after the fetch failed or
// the run was cancelled: they were read to their announced size, so they
// are as good as any. A message cut short never joined the batch.
func (b *pending) salvage(ctx context.Context) error {
	if b.batch.Len() == 0 {
		return nil
	}
	return b.flush(context.WithoutCancel(ctx))
}

// classifyWrite tells a failed read from the server (the connection's
// problem: retry) from a failed write to the archive (stop the run).
func classifyWrite(err error) error {
	if errors.Is(err, archive.ErrSource) {
		return err
	}
	return fatal(err)
}
