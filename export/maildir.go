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

func (d *maildirFormat) folder(f archive.ViewFolder, msgs []archive.Message) (sink, error) {
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
	letters, err := d.keywords(md, msgs)
	if err != nil {
		return nil, err
	}
	byKey := map[string]string{}
	for name := range fsink.have {
		if mf, err := archive.ParseMessageFile(name); err == nil {
			byKey[mf.Key] = name
		}
	}
	return &maildirSink{fileSink: fsink, letters: letters, byKey: byKey}, nil
}

// keywords returns each message's flag letters, mapped through the
// folder's dovecot-keywords file. The file of an earlier export into the
// same directory is kept and extended, so that the letters of the files
// already there keep their meaning; it is written before any file that
// uses a new letter.
func (d *maildirFormat) keywords(md string, msgs []archive.Message) (map[int64]string, error) {
	file := path.Join(md, keywordsFile)
	data, err := d.t.root.ReadFile(file)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	kw, err := archive.ParseKeywordsFile(data)
	if err != nil { // not ours: start afresh; the files are renamed to match
		kw, _ = archive.ParseKeywordsFile(nil)
	}
	letters := make(map[int64]string, len(msgs))
	grew := false
	for _, m := range msgs {
		l, changed := kw.Letters(m.Flags)
		letters[m.ID], grew = l, grew || changed
	}
	if grew || err != nil {
		if err := d.t.writeAtomic(file, kw.Marshal()); err != nil {
			return nil, err
		}
	}
	return letters, nil
}

func (d *maildirFormat) close() error { return d.t.close() }

// maildirSink writes a folder's messages into cur/. A message already
// there under other flags is renamed, not written again.
type maildirSink struct {
	*fileSink
	letters map[int64]string // flag letters by message row
	byKey   map[string]string
	renamed bool
}

func (s *maildirSink) write(m archive.Message, open func() (io.ReadCloser, error)) (outcome, error) {
	name := archive.MessageFile{Key: m.Key, Size: m.Size, VSize: m.VSize, Flags: s.letters[m.ID]}.Name()
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
