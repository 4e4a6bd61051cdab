package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/mailkeep/mailkeep/archive"
)

// A POP3 session reads one message after another from one connection, and
// its goroutine does nothing else. Each message is read into chunks of a
// fixed pool and handed, chunk by chunk as it arrives, to one of the
// writers: they compress, hash and write the temp files on the other
// cores, and a large message streams through a writer while the session is
// still reading it. A third goroutine, the placer, takes the written
// messages in the order they came and places them (place: recognised,
// recorded, batches committed), so that everything after retrieval is as
// if each message had been written inline. Memory is bounded by the chunk
// pool and the writers' encoders, whatever the message sizes.

const (
	// chunkSize and chunks size the pool of buffers that hold messages
	// between the session and the writers: 4 MiB.
	chunkSize = 64 << 10
	chunks    = 64
	// jobChunks is how many chunks of one message may wait for its
	// writer before the session waits too.
	jobChunks = chunks / 2
	// stageWriters is how many goroutines write messages: with the
	// session and the placer, that keeps two cores busy.
	stageWriters = 2
	// maxUnplaced bounds the messages read and not yet placed, and with
	// them the temp files open at once beyond a batch's.
	maxUnplaced = 128
)

// stager runs the writers and the placer of one POP3 fetch.
type stager struct {
	folder *archive.Folder
	place  func(j *stageJob) error
	jobs   chan *stageJob // to the writers, in arrival order
	placer chan *stageJob // to the placer, in the same order
	slots  chan struct{}  // one per unplaced message
	free   chan []byte    // chunks given back
	made   int            // chunks allocated (the session's)
	quit   chan struct{}  // closed when the placer fails
	err    error          // the placer's failure, set before quit closes
	wg     sync.WaitGroup
}

// stageJob is one message: its chunks as the session reads them, then its
// temp file once a writer has written it.
type stageJob struct {
	l      listed
	chunks chan []byte // the message, in order; closed at its end
	rerr   error       // why the message ended early, set before chunks closes
	st     *archive.Staged
	date   time.Time
	err    error
	done   chan struct{} // closed when st, date and err are set
}

// newStager starts a writer on each spool, and the placer, which hands
// each written message to place in arrival order.
func newStager(spools []*archive.Spool, folder *archive.Folder, place func(j *stageJob) error) *stager {
	g := &stager{folder: folder, place: place, jobs: make(chan *stageJob, maxUnplaced),
		placer: make(chan *stageJob, maxUnplaced), slots: make(chan struct{}, maxUnplaced),
		free: make(chan []byte, chunks), quit: make(chan struct{})}
	for _, sp := range spools {
		g.wg.Go(func() { g.write(sp) })
	}
	g.wg.Go(g.placeAll)
	return g
}

// write writes messages to temp files, one after another.
func (g *stager) write(sp *archive.Spool) {
	for j := range g.jobs {
		cr := &chunkReader{j: j, g: g}
		j.st, j.err = pop3Write(sp, g.folder, cr)
		if j.err == nil {
			j.date, _ = j.st.HeaderDate()
		}
		cr.drain() // what a failed write left unread goes back to the pool
		close(j.done)
	}
}

// placeAll places the written messages in arrival order. After a failure,
// the rest are discarded, and the session stops at its next message.
func (g *stager) placeAll() {
	for j := range g.placer {
		<-j.done
		switch {
		case g.err != nil:
			if j.st != nil {
				j.st.Discard()
			}
		case errors.Is(j.err, archive.ErrSource):
			// Cut short: the session reports why, and nothing of it is kept.
		case j.err != nil:
			g.fail(classifyWrite(j.err))
		default:
			if err := g.place(j); err != nil {
				g.fail(err)
			}
		}
		<-g.slots
	}
}

func (g *stager) fail(err error) {
	g.err = err
	close(g.quit)
}

// receive reads one message from body and hands it to the writers. It
// returns the placer's error once it has failed, and an error wrapping
// archive.ErrSource when body fails.
func (g *stager) receive(l listed, body io.Reader) error {
	select {
	case g.slots <- struct{}{}:
	case <-g.quit:
		return g.err
	}
	j := &stageJob{l: l, chunks: make(chan []byte, jobChunks), done: make(chan struct{})}
	g.jobs <- j
	g.placer <- j
	defer close(j.chunks)
	for {
		c, ok := g.chunk()
		if !ok {
			j.rerr = errStopped
			return g.err
		}
		n, err := fill(body, c)
		if n > 0 {
			j.chunks <- c[:n]
		} else {
			g.release(c)
		}
		switch {
		case err == io.EOF:
			return nil
		case err != nil:
			j.rerr = fmt.Errorf("%w: %w", archive.ErrSource, err)
			return j.rerr
		}
	}
}

// errStopped ends a message the session stopped reading because the
// placer failed; the placer discards it.
var errStopped = errors.New("stopped")

// fill reads from r until c is full, r ends (io.EOF) or fails.
func fill(r io.Reader, c []byte) (int, error) {
	n := 0
	for n < len(c) {
		m, err := r.Read(c[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// chunk returns a free chunk, or false once the placer has failed.
func (g *stager) chunk() ([]byte, bool) {
	select {
	case c := <-g.free:
		return c[:cap(c)], true
	default:
	}
	if g.made < chunks {
		g.made++
		return make([]byte, chunkSize), true
	}
	select {
	case c := <-g.free:
		return c[:cap(c)], true
	case <-g.quit:
		return nil, false
	}
}

func (g *stager) release(c []byte) { g.free <- c }

// stop waits for the writers and the placer to finish what was handed to
// them, and returns the placer's failure, if any.
func (g *stager) stop() error {
	close(g.jobs)
	close(g.placer)
	g.wg.Wait()
	return g.err
}

// chunkReader reads a message from its chunks, giving each back to the
// pool once read.
type chunkReader struct {
	j   *stageJob
	g   *stager
	cur []byte
	off int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for r.off == len(r.cur) {
		if r.cur != nil {
			r.g.release(r.cur)
			r.cur = nil
		}
		c, ok := <-r.j.chunks
		if !ok {
			if r.j.rerr != nil {
				return 0, r.j.rerr
			}
			return 0, io.EOF
		}
		r.cur, r.off = c, 0
	}
	n := copy(p, r.cur[r.off:])
	r.off += n
	return n, nil
}

// drain gives back the chunks of the message not read.
func (r *chunkReader) drain() {
	if r.cur != nil {
		r.g.release(r.cur)
		r.cur = nil
	}
	for c := range r.j.chunks {
		r.g.release(c)
	}
}

// placeStaged places one written message (on the placer's goroutine).
func (s *pop3Session) placeStaged(ctx context.Context, j *stageJob) error {
	return s.placeRetrieved(ctx, j.l, j.st, j.date)
}
