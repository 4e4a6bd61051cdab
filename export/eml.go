package export

import (
	"io"
	"path"

	"github.com/mailkeep/mailkeep/archive"
)

// emlFormat writes one file per message:
//
//	<folder directory>/<YYYYMMDD-HHMMSS>-<key>.eml
//
// byte-identical to the archived message, with the INTERNALDATE as mtime.
type emlFormat struct {
	t   *tree
	buf []byte
}

func (e *emlFormat) folder(f archive.ViewFolder, _ []archive.Message) (sink, error) {
	dir, err := folderDir(f.Dir, ".eml")
	if err != nil {
		return nil, err
	}
	if err := e.t.mkdirs(dir); err != nil {
		return nil, err
	}
	have, err := e.t.entries(dir)
	if err != nil {
		return nil, err
	}
	if e.buf == nil {
		e.buf = make([]byte, 64<<10)
	}
	return &fileSink{t: e.t, batch: batch{t: e.t}, buf: e.buf, have: have,
		place: func(m archive.Message) (string, string) { return dir, path.Join(dir, emlName(m)) }}, nil
}

func (e *emlFormat) close() error { return e.t.close() }

// fileSink writes each message to a file of its own (eml, Maildir).
type fileSink struct {
	t     *tree
	batch batch
	buf   []byte
	// have are the regular files in the directory the messages go to,
	// with their sizes.
	have map[string]int64
	// place is where a message goes: the directory of its temp file,
	// and its final name (both relative to the tree).
	place func(m archive.Message) (tmpDir, final string)
	// stale, for Maildir, returns the file of an earlier export that
	// holds the message under another name, or "".
	stale func(m archive.Message) string
}

func (s *fileSink) write(m archive.Message, open func() (io.ReadCloser, error)) (outcome, error) {
	tmpDir, final := s.place(m)
	if size, ok := s.have[path.Base(final)]; ok && size == m.Size {
		return outcome{present: true}, nil
	}
	p := pending{final: final, size: m.Size}
	if s.stale != nil {
		p.stale = s.stale(m)
	}
	if err := s.copy(&p, tmpDir, m, open); err != nil {
		p.discard(s.t)
		return outcome{}, err
	}
	s.batch.add(p)
	if s.batch.full() {
		return outcome{}, s.batch.commit()
	}
	return outcome{}, nil
}

// copy writes the message into a new temp file of tmpDir.
func (s *fileSink) copy(p *pending, tmpDir string, m archive.Message, open func() (io.ReadCloser, error)) error {
	rc, err := openMessage(open)
	if err != nil {
		return err
	}
	defer rc.Close()
	if p.f, p.tmp, err = s.t.temp(tmpDir); err != nil {
		return err
	}
	if _, err := copyMessage(p.f, rc, s.buf); err != nil {
		return err
	}
	return setMtime(p.f, m.InternalDate)
}

func (s *fileSink) finish() error { return s.batch.commit() }

func (s *fileSink) abort() tally { return s.batch.abort() }
