package export

import (
	"errors"
	"io"
	"io/fs"
	"path"

	"github.com/mailkeep/mailkeep/archive"
)

// maildirFormat writes the archive's own tree, uncompressed: the same folder
// directories and .mk levels (Dovecot's LAYOUT=fs:DIRNAME=.mk),
//
//	<folder directory>/.mk/cur/<key>,S=<size>,W=<size with CRLF>:2,<flags>
//	<folder directory>/.mk/dovecot-keywords
//
// with the folder's keywords mapped to the letters a–z by its
// dovecot-keywords file, and the INTERNALDATE as mtime.
type maildirFormat struct {
	t   *tree
	buf []byte
}

const keywordsFile = "dovecot-keywords"

func (d *maildirFormat) folder(f archive.ViewFolder, flags func() ([][]string, error)) (sink, error) {
	dir, err := localDir(f.Dir)
	if err != nil {
		return nil, err
	}
	md := path.Join(dir, archive.MaildirLevel)
	if err := d.t.mkdirs(path.Join(md, "new")); err != nil {
		return nil, err
	}
	fsink, err := newFileSink(d.t, path.Join(md, "cur"), path.Join(md, "tmp"), &d.buf)
	if err != nil {
		return nil, err
	}
	kw, err := d.keywords(md, flags)
	if err != nil {
		return nil, err
	}
	byKey := map[string]string{}
	for name := range fsink.have {
		if mf, err := archive.ParseMessageFile(name); err == nil {
			byKey[mf.Key] = name
		}
	}
	return &maildirSink{fileSink: fsink, d: d, kwFile: path.Join(md, keywordsFile), kw: kw, byKey: byKey}, nil
}

// keywords returns the folder's keywords, read from its dovecot-keywords
// file and extended by those of the flags its messages have. The file
// of an earlier export into the same directory is kept and extended, so
// that the letters of the files already there keep their meaning; it is
// written before any file that uses a new letter.
func (d *maildirFormat) keywords(md string, flags func() ([][]string, error)) (*archive.Keywords, error) {
	file := path.Join(md, keywordsFile)
	data, err := d.t.root.ReadFile(file)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	kw, err := archive.ParseKeywordsFile(data)
	if err != nil { // not ours: start afresh; the files are renamed to match
		kw, _ = archive.ParseKeywordsFile(nil)
	}
	sets, ferr := flags()
	if ferr != nil {
		return nil, ferr
	}
	grew := false
	for _, set := range sets {
		_, changed := kw.Letters(set)
		grew = grew || changed
	}
	if grew || err != nil {
		if err := d.t.writeAtomic(file, kw.Marshal()); err != nil {
			return nil, err
		}
	}
	return kw, nil
}

func (d *maildirFormat) close() error { return d.t.close() }

// maildirSink writes a folder's messages into cur/. A message already
// there under other flags is renamed, not written again.
type maildirSink struct {
	*fileSink
	d       *maildirFormat
	kwFile  string
	kw      *archive.Keywords // the folder's, as its dovecot-keywords file holds them
	byKey   map[string]string
	renamed bool
}

func (s *maildirSink) write(m archive.Message, open func() (io.ReadCloser, error)) (outcome, error) {
	letters, changed := s.kw.Letters(m.Flags)
	if changed { // a keyword a backup recorded after the folder began
		if err := s.d.t.writeAtomic(s.kwFile, s.kw.Marshal()); err != nil {
			return outcome{}, err
		}
	}
	name := archive.MessageFile{Key: m.Key, Size: m.Size, VSize: m.VSize, Flags: letters}.Name()
	old, ok := s.byKey[m.Key]
	if !ok || old == name {
		return s.put(m, name, "", open)
	}
	if s.have[old] != m.Size {
		return s.put(m, name, old, open)
	}
	if err := s.t.root.Rename(path.Join(s.dir, old), path.Join(s.dir, name)); err != nil {
		return outcome{}, err
	}
	delete(s.have, old)
	s.have[name], s.byKey[m.Key], s.renamed = m.Size, name, true
	return outcome{present: true}, nil
}

func (s *maildirSink) finish() error {
	if err := s.fileSink.finish(); err != nil {
		return err
	}
	if s.renamed {
		return s.t.syncDir(s.dir)
	}
	return nil
}
