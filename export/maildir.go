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
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := d.t.mkdirs(path.Join(md, sub)); err != nil {
			return nil, err
		}
	}
	if _, err := d.t.entries(path.Join(md, "tmp")); err != nil {
		return nil, err
	}
	letters, err := d.keywords(md, msgs)
	if err != nil {
		return nil, err
	}
	cur, err := d.t.entries(path.Join(md, "cur"))
	if err != nil {
		return nil, err
	}
	have, byKey := map[string]int64{}, map[string]string{}
	for name, size := range cur {
		if mf, err := archive.ParseMessageFile(name); err == nil {
			have[name], byKey[mf.Key] = size, name
		}
	}
	if d.buf == nil {
		d.buf = make([]byte, 64<<10)
	}
	name := func(m archive.Message) string {
		return archive.MessageFile{Key: m.Key, Size: m.Size, VSize: m.VSize, Flags: letters[m.ID]}.Name()
	}
	s := &fileSink{t: d.t, batch: batch{t: d.t}, buf: d.buf, have: have,
		place: func(m archive.Message) (string, string) {
			return path.Join(md, "tmp"), path.Join(md, "cur", name(m))
		},
		stale: func(m archive.Message) string {
			if old, ok := byKey[m.Key]; ok && old != name(m) {
				return path.Join(md, "cur", old)
			}
			return ""
		}}
	return &maildirSink{fileSink: s, have: have, byKey: byKey, name: name, cur: path.Join(md, "cur")}, nil
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

// maildirSink is a fileSink that, for a message already in place under
// other flags, renames the file instead of writing it again.
type maildirSink struct {
	*fileSink
	have    map[string]int64
	byKey   map[string]string
	name    func(archive.Message) string
	cur     string
	renamed bool
}

func (s *maildirSink) write(m archive.Message, open func() (io.ReadCloser, error)) (outcome, error) {
	want := s.name(m)
	if old, ok := s.byKey[m.Key]; ok && old != want && s.have[old] == m.Size {
		if err := s.t.root.Rename(path.Join(s.cur, old), path.Join(s.cur, want)); err != nil {
			return outcome{}, err
		}
		delete(s.have, old)
		s.have[want], s.byKey[m.Key], s.renamed = m.Size, want, true
	}
	return s.fileSink.write(m, open)
}

func (s *maildirSink) finish() error {
	if err := s.fileSink.finish(); err != nil {
		return err
	}
	if s.renamed {
		return s.t.syncDir(s.cur)
	}
	return nil
}
