package export

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"

	"github.com/mailkeep/mailkeep/archive"
)

// mboxFormat writes one mboxrd file per folder,
//
//	<folder directory>.mbox
//
// (see mboxrd.go), or the one folder's mbox to standard output.
type mboxFormat struct {
	t      *tree
	stdout io.Writer
	br     *bufio.Reader
	buf    []byte
}

// headPeek is how much of a message is looked at for its envelope sender.
const headPeek = 64 << 10

func (x *mboxFormat) folder(f archive.ViewFolder, _ func() ([][]string, error)) (sink, error) {
	if x.br == nil {
		x.br, x.buf = bufio.NewReaderSize(nil, headPeek), make([]byte, 64<<10)
	}
	s := &mboxSink{br: x.br, buf: x.buf}
	if x.stdout != nil {
		s.out = &streamOut{w: bufio.NewWriterSize(x.stdout, 256<<10)}
		return s, nil
	}
	dir, err := folderDir(f.Dir, ".mbox")
	if err != nil {
		return nil, err
	}
	final := dir + ".mbox"
	parent := path.Dir(final)
	if err := x.t.mkdirs(parent); err != nil {
		return nil, err
	}
	if _, err := x.t.entries(parent); err != nil { // removes stale temp files
		return nil, err
	}
	file, tmp, err := x.t.temp(parent)
	if err != nil {
		return nil, err
	}
	out := &fileOut{t: x.t, p: pending{f: file, tmp: tmp, final: final}}
	out.cw.w = file
	out.bw = bufio.NewWriterSize(&out.cw, 256<<10)
	s.out = out
	return s, nil
}

func (x *mboxFormat) close() error {
	if x.t == nil {
		return nil
	}
	return x.t.close()
}

// mboxSink writes a folder's messages into its mbox.
type mboxSink struct {
	out  mboxOut
	q    quoter
	br   *bufio.Reader
	buf  []byte
	done tally // what the mbox holds so far
}

func (s *mboxSink) write(m archive.Message, open func() (io.ReadCloser, error)) (outcome, error) {
	rc, err := openMessage(open)
	if err != nil {
		return outcome{}, err
	}
	defer rc.Close()
	s.br.Reset(rc)
	head, _ := s.br.Peek(headPeek) // an error comes again from the copy below
	s.out.mark()
	if _, err := io.WriteString(s.out, fromLine(envelopeSender(head), m.InternalDate)); err != nil {
		return outcome{}, err
	}
	s.q.reset(s.out)
	_, err = copyMessage(&s.q, s.br, s.buf)
	var re *readError
	if errors.As(err, &re) {
		if rerr := s.out.rollback(); rerr != nil {
			return outcome{}, fmt.Errorf("%s: %w (%w)", m.Key, rerr, re.err)
		}
		return outcome{}, err
	}
	if err != nil {
		return outcome{}, err
	}
	added, err := s.q.end()
	if err != nil {
		return outcome{}, err
	}
	s.done.messages++
	s.done.bytes += m.Size
	if added {
		s.done.newlines++
	}
	return outcome{newline: added}, nil
}

func (s *mboxSink) finish() error {
	if err := s.out.finish(); err != nil {
		return err
	}
	s.done = tally{}
	return nil
}

// abort loses the folder's mbox: a file is not published, and on a
// stream only the message being written is cut short (or held back).
func (s *mboxSink) abort() tally {
	s.out.abort()
	if _, ok := s.out.(*streamOut); ok {
		return tally{}
	}
	return s.done
}

// mboxOut is where an mbox goes.
type mboxOut interface {
	io.Writer
	// mark notes that a message begins.
	mark()
	// rollback removes what was written since mark, or fails if it cannot.
	rollback() error
	// finish makes the mbox complete and visible.
	finish() error
	// abort leaves it incomplete: nothing appears under its final name.
	abort()
}

// fileOut writes an mbox to a temp file, renamed to its final name at the
// end of the folder. A message that fails its check is cut off the file.
type fileOut struct {
	t    *tree
	p    pending
	bw   *bufio.Writer
	cw   countWriter
	from int64 // where the current message begins
}

func (o *fileOut) Write(p []byte) (int, error) { return o.bw.Write(p) }

// mark flushes the messages before, so that a rollback can drop all that
// is buffered. A write error stays in o.bw for the next write.
func (o *fileOut) mark() {
	o.bw.Flush()
	o.from = o.cw.n
}

func (o *fileOut) rollback() error {
	o.bw.Reset(&o.cw)
	if err := o.p.f.Truncate(o.from); err != nil {
		return err
	}
	if _, err := o.p.f.Seek(o.from, io.SeekStart); err != nil {
		return err
	}
	o.cw.n = o.from
	return nil
}

func (o *fileOut) finish() error {
	if err := o.bw.Flush(); err != nil {
		o.abort()
		return fmt.Errorf("write %s: %w", o.p.final, err)
	}
	b := batch{t: o.t}
	b.add(o.p)
	o.p = pending{}
	return b.commit()
}

func (o *fileOut) abort() { o.p.discard(o.t) }

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// holdLimit is how much of a message streamOut holds back until it has
// passed its check: a larger message that fails it is already partly out.
const holdLimit = 4 << 20

// streamOut writes an mbox to a stream (standard output). Each message is
// held back until the next one begins, so that one that fails its check is
// never written, unless it is larger than holdLimit.
type streamOut struct {
	w       *bufio.Writer
	held    bytes.Buffer
	spilled bool // the current message went out before its check
}

func (o *streamOut) Write(p []byte) (int, error) {
	if !o.spilled && o.held.Len()+len(p) <= holdLimit {
		return o.held.Write(p)
	}
	if !o.spilled {
		o.spilled = true
		if err := o.release(); err != nil {
			return 0, err
		}
	}
	return o.w.Write(p)
}

// release writes what is held.
func (o *streamOut) release() error {
	_, err := o.w.Write(o.held.Bytes())
	o.held.Reset()
	return err
}

func (o *streamOut) mark() {
	o.release() // an error stays in o.w for the next write
	o.spilled = false
}

func (o *streamOut) rollback() error {
	if o.spilled {
		return errors.New("it was partly written to the output before the check failed")
	}
	o.held.Reset()
	return nil
}

func (o *streamOut) finish() error {
	if err := o.release(); err != nil {
		return err
	}
	return o.w.Flush()
}

// abort writes out the messages that are complete.
func (o *streamOut) abort() {
	o.held.Reset()
	if !o.spilled {
		o.w.Flush()
	}
}

var (
	_ mboxOut = (*fileOut)(nil)
	_ mboxOut = (*streamOut)(nil)
)
