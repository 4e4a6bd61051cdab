package archive

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

const (
	folderMetaFile = "mailkeep-folder"
	keywordsFile   = "dovecot-keywords"
)

// FolderMeta is what the small metadata file in each Maildir records, so
// that the catalog can be rebuilt from the tree alone.
type FolderMeta struct {
	Name  string `json:"name"`
	Delim string `json:"delimiter"`
}

// Folder is one Maildir of the archive. Its methods are safe for concurrent use.
type Folder struct {
	Name  string
	Delim rune
	Rel   string // relative directory under mail/, slash-separated
	Dir   string // absolute path of the Maildir (the .mk level)

	mu      sync.Mutex
	kw      *Keywords
	kwDirty bool   // kw has a letter the keyword file lacks (see SaveKeywords)
	perm    perm   // of what the folder's writers create
	codec   *codec // how its archive frames message files
	// prunedBy, for a reader's folder, says which prune took a message
	// whose file is gone (see ErrPruned).
	prunedBy func(Message) (int64, bool)
	// remote, when set, opens message files from elsewhere (a replica).
	remote func(Message) (io.ReadCloser, error)
}

// Folder opens the Maildir for a server folder, creating it if needed.
func (a *Writer) Folder(name string, delim rune) (*Folder, error) {
	rel := FolderDir(name, delim)
	dir := filepath.Join(a.MailDir(), filepath.FromSlash(rel), MaildirLevel)
	if !strings.HasPrefix(dir, a.MailDir()+string(filepath.Separator)) {
		return nil, fmt.Errorf("folder %q maps outside the archive", name)
	}
	f := &Folder{Name: name, Delim: delim, Rel: rel, Dir: dir, perm: a.perm, codec: a.codec}
	if err := f.create(); err != nil {
		return nil, fmt.Errorf("folder %q: %w", name, err)
	}
	kw, err := f.loadKeywords()
	if err != nil {
		return nil, fmt.Errorf("folder %q: %w", name, err)
	}
	f.kw = kw
	return f, nil
}

// openFolder opens the Maildir of a catalog folder in the account
// directory dir (<archive>/<account>), whose files c frames, without
// creating anything.
func openFolder(dir string, st FolderState, c *codec) (*Folder, error) {
	rel := filepath.FromSlash(st.Dir)
	if !filepath.IsLocal(rel) {
		return nil, fmt.Errorf("folder %q: catalog dir %q lies outside the archive", st.Name, st.Dir)
	}
	f := &Folder{Name: st.Name, Rel: st.Dir, Dir: filepath.Join(dir, mailDir, rel, MaildirLevel), perm: permOf(dir),
		codec: c}
	if d := []rune(st.Delim); len(d) > 0 {
		f.Delim = d[0]
	}
	if _, err := os.Stat(filepath.Join(f.Dir, "cur")); err != nil {
		return nil, fmt.Errorf("folder %q: maildir missing: %w", st.Name, err)
	}
	kw, err := f.loadKeywords()
	if err != nil {
		return nil, fmt.Errorf("folder %q: %w", st.Name, err)
	}
	f.kw = kw
	return f, nil
}

func (f *Folder) create() error {
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(f.Dir, sub), f.perm.dir); err != nil {
			return err
		}
	}
	meta := filepath.Join(f.Dir, folderMetaFile)
	if _, err := os.Stat(meta); err == nil {
		return nil
	}
	data, err := json.Marshal(FolderMeta{Name: f.Name, Delim: delimString(f.Delim)})
	if err != nil {
		return err
	}
	if err := WriteFileAtomic(meta, append(data, '\n'), f.perm.file); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(f.Dir))
}

func delimString(d rune) string {
	if d == 0 {
		return ""
	}
	return string(d)
}

func (f *Folder) loadKeywords() (*Keywords, error) {
	data, err := os.ReadFile(filepath.Join(f.Dir, keywordsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return ParseKeywordsFile(nil)
	}
	if err != nil {
		return nil, err
	}
	return ParseKeywordsFile(data)
}

// Letters returns the Maildir flag letters for IMAP flags. A keyword that
// needs a new letter is written to the folder's keyword file (durably) by
// SaveKeywords, which Rename and Batch.Commit call before a file takes a
// name with the letter: a file named with it never precedes it on disk,
// and a batch that brings many new keywords rewrites the file once.
func (f *Folder) Letters(flags []string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	letters, changed := f.kw.Letters(flags)
	f.kwDirty = f.kwDirty || changed
	return letters
}

// SaveKeywords writes the folder's keyword file when Letters gave a new
// keyword a letter since it was last written.
func (f *Folder) SaveKeywords() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.kwDirty {
		return nil
	}
	if err := WriteFileAtomic(filepath.Join(f.Dir, keywordsFile), f.kw.Marshal(), f.perm.file); err != nil {
		return fmt.Errorf("folder %q: keywords: %w", f.Name, err)
	}
	f.kwDirty = false
	return nil
}

// Flags maps Maildir flag letters back to IMAP flags.
func (f *Folder) Flags(letters string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.kw.Flags(letters)
}

// CleanTmp removes leftover temp files of an interrupted run. The caller
// holds the account lock, so no writer is active.
func (f *Folder) CleanTmp() (int, error) {
	dir := filepath.Join(f.Dir, "tmp")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			return 0, err
		}
	}
	return len(entries), nil
}

// Scan lists the published message files of the folder by key. Names
// that are not mailkeep message files, and everything in new/, are
// returned in others, sorted. It holds the whole folder: passes over a
// big folder list it a chunk at a time instead (Writer.eachListed).
func (f *Folder) Scan() (files map[string]MessageFile, others []string, err error) {
	files = map[string]MessageFile{}
	for _, sub := range []string{"cur", "new"} {
		err := eachNames(filepath.Join(f.Dir, sub), func(names []string) error {
			for _, name := range names {
				mf, err := ParseMessageFile(name)
				if err != nil || sub == "new" {
					others = append(others, sub+"/"+name)
					continue
				}
				files[mf.Key] = mf
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	slices.Sort(others)
	return files, others, nil
}

// Path is the absolute path of a published message file.
func (f *Folder) Path(mf MessageFile) string {
	return filepath.Join(f.Dir, "cur", mf.Name())
}

// Rename gives a published file new flag letters. The rename is durable
// only after SyncCur.
func (f *Folder) Rename(from MessageFile, letters string) (MessageFile, error) {
	to := from
	to.Flags = letters
	if to == from {
		return to, nil
	}
	if err := f.SaveKeywords(); err != nil {
		return from, err
	}
	if err := os.Rename(f.Path(from), f.Path(to)); err != nil {
		return from, fmt.Errorf("rename %s: %w", from.Key, err)
	}
	return to, nil
}

// Remove deletes a published file. It is durable only after SyncCur.
func (f *Folder) Remove(mf MessageFile) error {
	if err := os.Remove(f.Path(mf)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", mf.Key, err)
	}
	return nil
}

// SyncCur makes renames in cur/ durable.
func (f *Folder) SyncCur() error { return SyncDir(filepath.Join(f.Dir, "cur")) }
