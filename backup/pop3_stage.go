package backup

import (
	"context"
	"io"

	"github.com/mailkeep/mailkeep/archive"
)

// A POP3 session reads one message after another from one connection, and
// its goroutine does nothing else (see stage.go): the run's writers write
// the messages, the session's placer places them in listing order.

const (
	// pop3Chunks is a POP3 session's chunk pool: 1 MiB, as an IMAP
	// connection.
	pop3Chunks = 16
	// stageWriters is how many goroutines write messages: with a
	// connection and a placer, that keeps two cores busy.
	stageWriters = 2
)

// pop3Staging returns the run's writers and chunk pool, made on first use.
func (r *pop3Run) pop3Staging() (*writers, *chunkPool) {
	if r.writers == nil {
		r.writers = newWriters(stageWriters, r.opts.Compression)
		r.chunks = newChunkPool(pop3Chunks)
	}
	return r.writers, r.chunks
}

// placeStaged places one written message (on the placer's goroutine).
func (s *pop3Session) placeStaged(ctx context.Context, j *stageJob[listed]) error {
	date, _ := j.st.HeaderDate()
	return s.placeRetrieved(ctx, j.meta, j.st, date)
}

// writePOP3 is pop3Write for a writer; tests replace pop3Write to fail
// like a full disk.
func writePOP3(sp *archive.Spool, f *archive.Folder, r io.Reader) (*archive.Staged, error) {
	return pop3Write(sp, f, r)
}
