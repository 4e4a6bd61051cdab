package backup

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/mailkeep/mailkeep/archive"
)

// A POP3 session reads one message after another from one connection.
// Compressing and hashing each before reading the next leaves the second
// core idle, so the session reads a message of up to stageInline bytes
// into memory and hands it to background goroutines, which write it to a
// temp file while the session reads on. The session places the results
// in the order the messages came, so that everything after staging is as
// if it had been written inline. Larger messages stream through the
// session's own spool, after everything staged before them is placed.

// stageInline is the largest message that is staged in the background.
const stageInline = 1 << 20

// stageDepth bounds the messages read ahead of the background writers, so
// that memory stays below about (stageDepth+stageWriters+1) × stageInline.
const stageDepth = 4

// stageWriters is how many goroutines compress staged messages: with the
// session's own, that keeps two cores busy.
const stageWriters = 2

// stager writes staged messages to temp files on background goroutines,
// one per spool.
type stager struct {
	folder  *archive.Folder
	jobs    chan *stageJob
	pending []*stageJob // submitted, oldest first
	wg      sync.WaitGroup
	free    [][]byte
}

// stageJob is one message read into memory and its temp file once written.
type stageJob struct {
	l     listed
	body  []byte
	date  time.Time
	st    *archive.Staged
	err   error
	ready chan struct{}
}

func newStager(spools []*archive.Spool, folder *archive.Folder) *stager {
	g := &stager{folder: folder, jobs: make(chan *stageJob, stageDepth)}
	for _, sp := range spools {
		g.wg.Go(func() { g.loop(sp) })
	}
	return g
}

func (g *stager) loop(sp *archive.Spool) {
	for j := range g.jobs {
		j.st, j.err = pop3Write(sp, g.folder, bytes.NewReader(j.body))
		close(j.ready)
	}
}

// read reads a whole message of up to stageInline bytes, announced by
// LIST as size bytes, into a buffer. A message longer than that (or than
// LIST said, with some slack) is not staged: read returns what it read and
// the rest of the body, to be streamed.
func (g *stager) read(body io.Reader, size int64) ([]byte, io.Reader, error) {
	limit := int(min(size+size/8+1024, stageInline)) + 1
	buf := g.buffer(limit)
	for len(buf) < limit {
		n, err := body.Read(buf[len(buf):limit])
		buf = buf[:len(buf)+n]
		switch {
		case err == io.EOF:
			return buf, nil, nil
		case err != nil:
			g.release(buf)
			return nil, nil, fmt.Errorf("%w: %w", archive.ErrSource, err)
		}
	}
	return nil, io.MultiReader(bytes.NewReader(buf), body), nil
}

// buffer returns an empty buffer of capacity n or more, reusing a
// released one.
func (g *stager) buffer(n int) []byte {
	for i, b := range g.free {
		if cap(b) >= n {
			g.free = slices.Delete(g.free, i, i+1)
			return b[:0]
		}
	}
	return make([]byte, 0, n)
}

// release keeps a buffer for reuse; as many as can be in flight at once.
func (g *stager) release(b []byte) {
	b = b[:0]
	if len(g.free) < stageDepth+stageWriters+1 {
		g.free = append(g.free, b)
		return
	}
	// Replace the smallest, so that the kept ones fit the most.
	i := slices.IndexFunc(g.free, func(f []byte) bool { return cap(f) < cap(b) })
	if i >= 0 {
		g.free[i] = b
	}
}

// submit queues a message read by read; it blocks while stageDepth
// messages wait.
func (g *stager) submit(l listed, body []byte) {
	j := &stageJob{l: l, body: body, date: headerDate(body[:min(len(body), headerLimit)]), ready: make(chan struct{})}
	g.pending = append(g.pending, j)
	g.jobs <- j
}

// next returns the oldest submitted message once it is written, or nil
// when none is pending or, unless wait, the oldest is not written yet.
func (g *stager) next(wait bool) *stageJob {
	if len(g.pending) == 0 {
		return nil
	}
	j := g.pending[0]
	if !wait {
		select {
		case <-j.ready:
		default:
			return nil
		}
	}
	<-j.ready
	g.pending = g.pending[1:]
	g.release(j.body)
	j.body = nil
	return j
}

// stop ends the background goroutines and discards the temp files of
// messages that were never placed.
func (g *stager) stop() {
	close(g.jobs)
	g.wg.Wait()
	for j := g.next(true); j != nil; j = g.next(true) {
		if j.st != nil {
			j.st.Discard()
		}
	}
}

// placeStaged places the staged messages that are written, oldest first:
// all of them when all is set (waiting for the writer), else those ready
// now.
func (s *pop3Session) placeStaged(ctx context.Context, all bool) error {
	for j := s.stage.next(all); j != nil; j = s.stage.next(all) {
		if j.err != nil {
			return classifyWrite(j.err)
		}
		if err := s.placeRetrieved(ctx, j.l, j.st, j.date); err != nil {
			return err
		}
	}
	return nil
}
