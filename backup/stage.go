package backup

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/mailkeep/mailkeep/archive"
)

// A connection's goroutine reads messages from the socket and does
// nothing else. Each message is read into chunks of the connection's pool
// and handed, chunk by chunk as it arrives, to the run's writers: they
// compress, hash and write the temp files on every core, and a large
// message streams through a writer while the connection is still reading
// it. A placer per fetch takes the written messages in the order they
// came and places them (recognised, recorded, batches committed), so that
// everything after retrieval is as if each message had been written
// inline, and a batch's fsyncs overlap the reading of the next messages.
// Memory is bounded by the connections' chunk pools and the writers'
// encoders, whatever the message sizes.
//
// The writers are shared by every connection of a run. A writer waits
// only for the chunks of the message it took; a connection waits for
// chunks of its own pool, which only its own messages hold, and the
// writers take messages in the order they were begun: so every message a
// writer waits for is being read, and every chunk a connection waits for
// comes back once a writer reads it.

const (
	// chunkSize is the size of the buffers that hold messages between a
	// connection and the writers.
	chunkSize = 64 << 10
	// maxUnplaced bounds the messages of a fetch read and not yet placed,
	// and with them the temp files open at once beyond a batch's and the
	// memory their headers hold: the connection reads on while its placer
	// commits a batch, until this many wait.
	maxUnplaced = 128
)

// writers are the goroutines that write a run's messages to temp files.
// They start, each with its own Spool, when the first message comes.
type writers struct {
	n     int
	level string // compression
	jobs  chan func(*archive.Spool)
	once  sync.Once
	err   error // making the spools failed
	wg    sync.WaitGroup
}

func newWriters(n int, level string) *writers {
	return &writers{n: n, level: level, jobs: make(chan func(*archive.Spool), maxUnplaced)}
}

// submit queues a job for the next free writer.
func (w *writers) submit(job func(*archive.Spool)) error {
	w.once.Do(w.start)
	if w.err != nil {
		return w.err
	}
	w.jobs <- job
	return nil
}

func (w *writers) start() {
	spools := make([]*archive.Spool, w.n)
	for i := range spools {
		if spools[i], w.err = archive.NewSpool(w.level); w.err != nil {
			return
		}
	}
	for _, sp := range spools {
		w.wg.Go(func() {
			for job := range w.jobs {
				job(sp)
			}
		})
	}
}

// close waits for the writers once no stager uses them any more.
func (w *writers) close() {
	close(w.jobs)
	w.wg.Wait()
}

// stager hands the messages of one fetch to the writers and places them,
// in arrival order, on its placer goroutine.
type stager[T any] struct {
	w      *writers
	folder *archive.Folder
	write  func(*archive.Spool, *archive.Folder, io.Reader) (*archive.Staged, error)
	place  func(j *stageJob[T]) error
	placer chan *stageJob[T]
	slots  chan struct{} // one per unplaced message
	pool   *chunkPool
	quit   chan struct{} // closed when the placer fails
	err    error         // the placer's failure, set before quit closes
	wg     sync.WaitGroup
}

// stageJob is one message: its chunks as the connection reads them, then
// its temp file once a writer has written it.
type stageJob[T any] struct {
	meta   T
	chunks chan []byte // the message, in order; closed at its end
	rerr   error       // why the message ended early, set before chunks closes
	st     *archive.Staged
	err    error
	done   chan struct{} // closed when st and err are set
}

// newStager starts the placer of one fetch into folder, which hands each
// written message to place in arrival order.
func newStager[T any](w *writers, pool *chunkPool, folder *archive.Folder,
	write func(*archive.Spool, *archive.Folder, io.Reader) (*archive.Staged, error),
	place func(j *stageJob[T]) error) *stager[T] {
	g := &stager[T]{w: w, pool: pool, folder: folder, write: write, place: place,
		placer: make(chan *stageJob[T], maxUnplaced), slots: make(chan struct{}, maxUnplaced),
		quit: make(chan struct{})}
	g.wg.Go(g.placeAll)
	return g
}

// placeAll places the written messages in arrival order. After a failure,
// the rest are discarded, and the connection stops at its next message.
func (g *stager[T]) placeAll() {
	for j := range g.placer {
		<-j.done
		switch {
		case g.err != nil:
			if j.st != nil {
				j.st.Discard()
			}
		case errors.Is(j.err, archive.ErrSource):
			// Cut short: the connection reports why, and nothing of it is kept.
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

func (g *stager[T]) fail(err error) {
	g.err = err
	close(g.quit)
}

// receive reads one message from body, hands it to the writers and queues
// it for the placer. It returns the placer's error once it has failed,
// and an error wrapping archive.ErrSource when body fails.
func (g *stager[T]) receive(meta T, body io.Reader) error {
	j, err := g.begin(meta)
	if err != nil {
		return err
	}
	err = g.fill(j, body)
	g.queue(j)
	return err
}

// begin starts a message: a writer will write it as fill reads it. The
// message must then be queued, whatever fill returned.
func (g *stager[T]) begin(meta T) (*stageJob[T], error) {
	select {
	case g.slots <- struct{}{}:
	case <-g.quit:
		return nil, g.err
	}
	j := &stageJob[T]{meta: meta, chunks: make(chan []byte, g.pool.jobChunks()), done: make(chan struct{})}
	err := g.w.submit(func(sp *archive.Spool) { g.writeJob(sp, j) })
	if err != nil {
		close(j.chunks)
		<-g.slots
		return nil, fatal(err)
	}
	return j, nil
}

// writeJob writes one message to a temp file, on a writer's goroutine.
func (g *stager[T]) writeJob(sp *archive.Spool, j *stageJob[T]) {
	cr := &chunkReader{chunks: j.chunks, rerr: &j.rerr, pool: g.pool}
	j.st, j.err = g.write(sp, g.folder, cr)
	cr.drain() // what a failed write left unread goes back to the pool
	close(j.done)
}

// fill reads the message from body into chunks for its writer, and ends it.
func (g *stager[T]) fill(j *stageJob[T], body io.Reader) error {
	defer close(j.chunks)
	for {
		c, ok := g.pool.get(g.quit)
		if !ok {
			j.rerr = errStopped
			return g.err
		}
		n, err := fill(body, c)
		if n > 0 {
			j.chunks <- c[:n]
		} else {
			g.pool.put(c)
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

// queue hands a begun message to the placer, in the order begun.
func (g *stager[T]) queue(j *stageJob[T]) { g.placer <- j }

// stop waits for the placer to place what was handed to it, and returns
// its failure, if any.
func (g *stager[T]) stop() error {
	close(g.placer)
	g.wg.Wait()
	return g.err
}

// errStopped ends a message the connection stopped reading because the
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

// chunkPool is one connection's budget of chunks, kept across its fetches.
type chunkPool struct {
	free chan []byte
	made int
}

func newChunkPool(n int) *chunkPool { return &chunkPool{free: make(chan []byte, n)} }

// jobChunks is how many chunks of one message may wait for its writer
// before the connection waits too.
func (p *chunkPool) jobChunks() int { return max(1, cap(p.free)/2) }

// get returns a free chunk, or false once quit is closed.
func (p *chunkPool) get(quit <-chan struct{}) ([]byte, bool) {
	select {
	case c := <-p.free:
		return c[:cap(c)], true
	default:
	}
	if p.made < cap(p.free) {
		p.made++
		return make([]byte, chunkSize), true
	}
	select {
	case c := <-p.free:
		return c[:cap(c)], true
	case <-quit:
		return nil, false
	}
}

func (p *chunkPool) put(c []byte) { p.free <- c }

// chunkReader reads a message from its chunks, giving each back to the
// pool once read.
type chunkReader struct {
	chunks <-chan []byte
	rerr   *error
	pool   *chunkPool
	cur    []byte
	off    int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for r.off == len(r.cur) {
		if r.cur != nil {
			r.pool.put(r.cur)
			r.cur = nil
		}
		c, ok := <-r.chunks
		if !ok {
			if *r.rerr != nil {
				return 0, *r.rerr
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
		r.pool.put(r.cur)
		r.cur = nil
	}
	for c := range r.chunks {
		r.pool.put(c)
	}
}
