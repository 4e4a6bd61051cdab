package archive

import (
	"context"
	"errors"
	"fmt"
	"os"

	"filippo.io/age"
)

// Keys are an encrypted account's age keys. Recipients (public keys) are
// what a backup needs: each new message file is encrypted to all of them.
// Identities (private keys) decrypt message files; they are needed only
// where messages are read (restore, serve, export, verify's full check),
// never to back up.
type Keys struct {
	Recipients []age.Recipient
	Identities []age.Identity
}

// writerCodec returns the codec of a writer of the archive in dir, which
// is encrypted or not as its marker says, for an account configured with
// keys (nil: without encryption). They must agree.
func writerCodec(dir string, encrypted bool, keys *Keys) (*codec, error) {
	switch {
	case encrypted && keys == nil:
		return nil, fmt.Errorf("%s: %w: the archive is encrypted and the account has no encryption configured; "+
			"an archive is never half encrypted: configure the account's encryption again", dir, ErrEncryption)
	case !encrypted && keys != nil:
		return nil, fmt.Errorf("%s: %w: the account has encryption configured and its archive is not encrypted; "+
			"an archive is never half encrypted: remove the encryption block, or back the account up into "+
			"a new archive", dir, ErrEncryption)
	case !encrypted:
		return plainCodec, nil
	}
	return &codec{encrypted: true, recipients: keys.Recipients, identities: keys.Identities}, nil
}

// Publish makes a batch's files durable under their final names
// (Batch.Commit), then records rows, the batch's catalog rows, in one
// transaction. In an encrypted archive the rows are staged first, so that
// files a crash leaves without rows can be adopted without the identity
// (see AdoptOrphans). Once the files are published they belong to the
// archive: if recording them fails, the next run adopts them. On error the
// batch's unpublished temp files are removed.
func (a *Writer) Publish(ctx context.Context, b *Batch, rows []Message, run int64) error {
	if a.codec.encrypted {
		if err := a.Catalog.stage(context.WithoutCancel(ctx), rows); err != nil {
			b.Abort()
			return err
		}
	}
	if err := b.Commit(); err != nil {
		return err
	}
	return a.Catalog.AddMessages(context.WithoutCancel(ctx), rows, run)
}

// AdoptOrphans records the complete message files of folder f (catalog
// folder folderID) that have no catalog row, in run, and returns how many
// it adopted. Only a crash between a batch's publication and its rows
// leaves such files (doc/design.md, "Crash model"). A file with a staged
// row is adopted from that row once it matches the SHA-256 recorded there;
// any other is decoded, which in an encrypted archive needs the identity.
// A file that a pending prune took out of the catalog is deleted instead.
// The folder's staged rows are then cleared. The caller holds the lock,
// has finished any interrupted prune and has emptied the folder's tmp/.
func (a *Writer) AdoptOrphans(ctx context.Context, f *Folder, folderID, run int64) (int, error) {
	pruned, err := a.Catalog.PendingPruned(ctx, folderID)
	if err != nil {
		return 0, err
	}
	staged, err := a.Catalog.staged(ctx, folderID)
	if err != nil {
		return 0, err
	}
	var adopted []Message
	keys := map[string]bool{} // adopted: a second file of a key stays an orphan
	dropped := 0
	err = a.eachListed(ctx, f, folderID, func(chunk []listedFile) error {
		for _, lf := range chunk {
			switch {
			case lf.rowFile != "" || keys[lf.Key]:
				continue
			case pruned[lf.Key]:
				if err := f.Remove(lf.MessageFile); err != nil {
					return err
				}
				dropped++
				continue
			}
			m, err := f.adoptRow(lf.MessageFile, folderID, staged)
			if err != nil {
				return err
			}
			keys[lf.Key] = true
			adopted = append(adopted, m)
		}
		return nil
	}, func(string) {})
	if err != nil {
		return 0, err
	}
	if dropped > 0 {
		if err := f.SyncCur(); err != nil {
			return 0, err
		}
	}
	if len(adopted) > 0 {
		if err := a.Catalog.AddMessages(ctx, adopted, run); err != nil {
			return 0, err
		}
	}
	if len(staged) == 0 {
		return len(adopted), nil
	}
	return len(adopted), a.Catalog.clearStaged(ctx, folderID)
}

// adoptRow makes the catalog row of a published file that has none: from
// its staged row if it has one, else by decoding it.
func (f *Folder) adoptRow(mf MessageFile, folderID int64, staged map[string]Message) (Message, error) {
	s, ok := staged[mf.Key]
	if !ok {
		m, err := f.adopt(mf, folderID)
		if errors.Is(err, ErrNoIdentity) {
			return m, fmt.Errorf("%s: no catalog row and no staged row: adopting it means decrypting it, and %w; "+
				"run \"mailkeep verify --repair\" with the identity", f.Path(mf), ErrNoIdentity)
		}
		return m, err
	}
	sum, err := hashFile(f.Path(mf))
	if err != nil {
		return s, fmt.Errorf("adopt %s: %w", mf.Name(), err)
	}
	if sum != s.FileSHA256 {
		return s, fmt.Errorf("adopt %s: %w: the file differs from the one staged (SHA-256 as stored)", mf.Name(), ErrDamaged)
	}
	s.File = mf.Name()
	return s, nil
}

// SetIdentities gives the snapshot the identities that decrypt the message
// files of an encrypted archive. Call it before reading messages; a plain
// archive needs none.
func (s *Snapshot) SetIdentities(ids []age.Identity) { s.codec.identities = ids }

// Encrypted reports whether the archive's message files are encrypted.
func (s *Snapshot) Encrypted() bool { return s.codec.encrypted }

// CheckIdentity tells early whether messages can be read: for an encrypted
// archive, that identities were given and that they decrypt the newest
// message file. It is nil for a plain archive, and for an archive without
// messages.
func (s *Snapshot) CheckIdentity(ctx context.Context) error {
	if !s.codec.encrypted {
		return nil
	}
	if len(s.codec.identities) == 0 {
		if s.dir == "" {
			return ErrNoIdentity
		}
		return fmt.Errorf("%s: %w", s.dir, ErrNoIdentity)
	}
	st, m, ok, err := s.cat.newestMessage(ctx)
	if err != nil || !ok {
		return err
	}
	f, err := s.Folder(st)
	if err != nil {
		return err
	}
	file, err := f.openStored(m)
	if err != nil {
		return err
	}
	defer file.Close()
	if _, err := decrypt(file, s.codec.identities); identityError(err) {
		return undecodable(file, m, err)
	}
	return nil
}

// newestMessage returns the message recorded last and its folder.
func (c *Catalog) newestMessage(ctx context.Context) (FolderState, Message, bool, error) {
	var m Message
	err := c.db.QueryRowContext(ctx, `SELECT folder_id, key, file FROM messages ORDER BY id DESC LIMIT 1`).
		Scan(&m.FolderID, &m.Key, &m.File)
	if isNoRows(err) {
		return FolderState{}, m, false, nil
	}
	if err != nil {
		return FolderState{}, m, false, fmt.Errorf("catalog: %w", err)
	}
	st, err := scanFolder(c.db.QueryRowContext(ctx, `SELECT `+folderCols+` FROM folders WHERE id = ?`, m.FolderID))
	if err != nil {
		return st, m, false, fmt.Errorf("catalog: %w", err)
	}
	return st, m, true, nil
}

// hashFile returns the SHA-256 of a file's bytes as stored.
func hashFile(path string) ([32]byte, error) {
	var sum [32]byte
	file, err := os.Open(path)
	if err != nil {
		return sum, err
	}
	defer file.Close()
	return hashOpen(file)
}
