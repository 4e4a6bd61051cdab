package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// adopt reads a published file into a catalog row of folderID: UIDs or
// UIDL come from its key.
func (f *Folder) adopt(mf MessageFile, folderID int64) (Message, error) {
	m, err := f.ReadMessage(mf)
	if err != nil {
		return m, fmt.Errorf("adopt %s: %w", mf.Name(), err)
	}
	m.FolderID = folderID
	if uv, uid, ok := ParseIMAPKey(mf.Key); ok {
		m.UIDValidity, m.UID = uv, uid
	} else if uidl, ok := ParsePOP3Key(mf.Key); ok {
		m.UIDL = uidl
	} else {
		return m, fmt.Errorf("adopt %s: unknown key", mf.Name())
	}
	return m, nil
}

// RebuildCatalog replaces the account's catalog with one made from the
// Maildir tree alone: folders from their mailkeep-folder files, messages
// from their files (UIDs from the names, hashes and sizes from the
// content, flags from the names, dates from the mtimes). The old catalog is
// kept beside it as catalog.db.replaced-<time>. Sync state (UIDNEXT,
// HIGHESTMODSEQ) is not in the tree: the next backup compares every
// folder in full, and fetches nothing it already has. What an interrupted
// prune left on disk is deleted first, while the old catalog still says
// what it is; a catalog that cannot say leaves it to be rebuilt as mail.
// An encrypted archive's files are decrypted, so it needs the identity:
// without one, or with one that does not decrypt the first file, the
// catalog is left as it is.
func (a *Writer) RebuildCatalog(ctx context.Context, now time.Time) (Report, error) {
	var rep Report
	if err := a.canDecode(); err != nil {
		return rep, err
	}
	if a.Catalog != nil {
		if _, err := a.ResumePrune(ctx); err != nil {
			a.log.Warn("the old catalog could not finish an interrupted prune; its files are rebuilt as mail", "err", err)
		}
	}
	if err := a.replaceCatalog(ctx, now); err != nil {
		return rep, err
	}
	run, err := a.Catalog.BeginRun(ctx, "rebuild", now)
	if err != nil {
		return rep, err
	}
	err = filepath.WalkDir(a.MailDir(), func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() || d.Name() != MaildirLevel {
			return err
		}
		return a.rebuildFolder(ctx, path, run, &rep)
	})
	outcome := OutcomeOK
	if err != nil {
		outcome = OutcomeFailed
	}
	st := RunStats{Folders: rep.Folders, NewMessages: rep.Messages, NewBytes: rep.Bytes, Errors: len(rep.Problems)}
	if err := errors.Join(err, a.Catalog.FinishRun(ctx, run, outcome, st, err, time.Now())); err != nil {
		return rep, fmt.Errorf("rebuild catalog: %w", err)
	}
	return rep, nil
}

// canDecode checks, in an encrypted archive, that the identities decrypt
// the first message file found.
func (a *Writer) canDecode() error {
	if !a.codec.encrypted {
		return nil
	}
	if len(a.codec.identities) == 0 {
		return fmt.Errorf("%s: %w", a.Dir, ErrNoIdentity)
	}
	errFound := errors.New("found")
	var err error
	werr := filepath.WalkDir(a.MailDir(), func(path string, d fs.DirEntry, werr error) error {
		if werr != nil || d.IsDir() || filepath.Base(filepath.Dir(path)) != "cur" {
			return werr
		}
		if _, perr := ParseMessageFile(d.Name()); perr != nil {
			return nil
		}
		file, oerr := os.Open(path)
		if oerr != nil {
			return oerr
		}
		defer file.Close()
		if _, derr := decrypt(file, a.codec.identities); identityError(derr) {
			err = fmt.Errorf("%s: %w", path, derr)
		}
		return errFound
	})
	if werr != nil && werr != errFound {
		return werr
	}
	return err
}

func (a *Writer) replaceCatalog(ctx context.Context, now time.Time) error {
	path := filepath.Join(a.Dir, catalogFile)
	if a.Catalog != nil {
		a.Catalog.Close()
		a.Catalog = nil
	}
	aside := fmt.Sprintf("%s.replaced-%s", path, now.UTC().Format("20060102T150405Z"))
	if err := os.Rename(path, aside); err != nil && !os.IsNotExist(err) {
		return err
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Rename(path+suffix, aside+suffix)
	}
	if err := createFile(path, a.perm.file); err != nil {
		return err
	}
	cat, err := OpenCatalog(ctx, path)
	if err != nil {
		return err
	}
	a.Catalog = cat
	return SyncDir(a.Dir)
}

func (a *Writer) rebuildFolder(ctx context.Context, dir string, run int64, rep *Report) error {
	data, err := os.ReadFile(filepath.Join(dir, folderMetaFile))
	if err != nil {
		rep.Problems = append(rep.Problems, Problem{Kind: ProblemCatalog, Folder: dir, Detail: "no " + folderMetaFile})
		return nil
	}
	var meta FolderMeta
	if err := json.Unmarshal(data, &meta); err != nil {
		rep.Problems = append(rep.Problems, Problem{Kind: ProblemCatalog, Folder: dir, Detail: err.Error()})
		return nil
	}
	delim := rune(0)
	if d := []rune(meta.Delim); len(d) > 0 {
		delim = d[0]
	}
	f, err := a.Folder(meta.Name, delim)
	if err != nil {
		return err
	}
	if f.Dir != dir {
		rep.Problems = append(rep.Problems, Problem{Kind: ProblemCatalog, Folder: meta.Name,
			Detail: fmt.Sprintf("recorded in %s, but its name maps to %s", dir, f.Dir)})
		return nil
	}
	rep.Folders++
	return a.rebuildMessages(ctx, f, run, rep)
}

func (a *Writer) rebuildMessages(ctx context.Context, f *Folder, run int64, rep *Report) error {
	st, err := a.Catalog.EnsureFolder(ctx, f, run)
	if err != nil {
		return err
	}
	files, _, err := f.Scan()
	if err != nil {
		return err
	}
	var msgs []Message
	for _, mf := range files {
		m, err := f.adopt(mf, st.ID)
		if identityError(err) {
			return err
		}
		if err != nil {
			rep.Problems = append(rep.Problems, Problem{Kind: ProblemCorrupt, Folder: f.Name, Key: mf.Key, Detail: err.Error()})
			continue
		}
		rep.Messages++
		rep.Bytes += m.Size
		msgs = append(msgs, m)
	}
	return a.Catalog.AddMessages(ctx, msgs, run)
}
