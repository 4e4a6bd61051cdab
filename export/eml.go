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

func (e *emlFormat) folder(f archive.ViewFolder, _ func() ([][]string, error)) (sink, error) {
	dir, err := folderDir(f.Dir, ".eml")
	if err != nil {
		return nil, err
	}
	fsink, err := newFileSink(e.t, dir, dir, &e.buf)
	if err != nil {
		return nil, err
	}
	return emlSink{fsink}, nil
}

func (e *emlFormat) close() error { return e.t.close() }

type emlSink struct{ *fileSink }

func (s emlSink) write(m archive.Message, open func() (io.ReadCloser, error)) (outcome, error) {
	return s.put(m, emlName(m), "", open)
}

// fileSink writes each message to a file of its own (eml, Maildir).
type fileSink struct {
	t      *tree
	batch  batch
	buf    []byte
	tmpDir string           // where temp files are written
	dir    string           // where files are published
	have   map[string]int64 // the regular files in dir, with their sizes
}

// newFileSink creates dir and tmpDir, removes the temp files an earlier
// export left in tmpDir, and lists dir. buf is the copy buffer the sinks of
// one format share.
func newFileSink(t *tree, dir, tmpDir string, buf *[]byte) (*fileSink, error) {
	for _, d := range []string{dir, tmpDir} {
		if err := t.mkdirs(d); err != nil {
			return nil, err
		}
	}
	have, err := t.entries(dir)
	if err == nil && tmpDir != dir {
		_, err = t.entries(tmpDir)
	}
	if err != nil {
		return nil, err
	}
	if *buf == nil {
		*buf = make([]byte, 64<<10)
	}
	return &fileSink{t: t, batch: batch{t: t}, buf: *buf, tmpDir: tmpDir, dir: dir, have: have}, nil
}

// put writes message m to dir/name, unless a file of that name and size
// is there. stale is a file of dir that the new one replaces ("" for none).
func (s *fileSink) put(m archive.Message, name, stale string, open func() (io.ReadCloser, error)) (outcome, error) {
	if size, ok := s.have[name]; ok && size == m.Size {
		return outcome{present: true}, nil
	}
	p := pending{final: path.Join(s.dir, name), size: m.Size}
	if stale != "" {
		p.stale = path.Join(s.dir, stale)
	}
	if err := s.copy(&p, m, open); err != nil {
		p.discard(s.t)
		return outcome{}, err
	}
	s.batch.add(p)
	if s.batch.full() {
		return outcome{}, s.batch.commit()
	}
	return outcome{}, nil
}

// copy writes the message into a new temp file.
func (s *fileSink) copy(p *pending, m archive.Message, open func() (io.ReadCloser, error)) error {
	rc, err := openMessage(open)
	if err != nil {
		return err
	}
	defer rc.Close()
	if p.f, p.tmp, err = s.t.temp(s.tmpDir); err != nil {
		return err
	}
	if _, err := copyMessage(p.f, rc, s.buf); err != nil {
		return err
	}
	return setMtime(p.f, m.InternalDate)
}

func (s *fileSink) finish() error { return s.batch.commit() }

func (s *fileSink) abort() tally { return s.batch.abort() }
