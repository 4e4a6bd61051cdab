package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/archive"
)

// fetchChunk is how many UIDs one UID FETCH asks for. One command is
// consumed fully before the next is sent (pipelined body fetches deadlock
// the client against servers that interleave responses).
const fetchChunk = 1000

var bodyFetch = &imap.FetchOptions{
	UID: true, Flags: true, InternalDate: true, RFC822Size: true,
	BodySection: []*imap.FetchItemBodySection{{Peek: true}},
}

// fetchNew archives the given UIDs. UIDs the server does not return (for
// example expunged meanwhile, or answered in a way the client cannot match)
// are asked for once more one by one, then recorded as failures.
//
// On a server with X-GM-EXT-1, the messages' X-GM-MSGIDs are asked for
// first, and a message whose content the archive or the run holds is
// linked instead of downloaded (see fetchGmail). Between two fetch
// commands, a run that a server throttled stops (errThrottleStop), with
// what it fetched recorded.
func (fs *folderSync) fetchNew(ctx context.Context, uids uidList) error {
	b := &pending{fs: fs}
	defer b.batch.Abort()
	var err error
	if fs.gmail {
		err = fs.fetchGmail(ctx, b, uids.chunks(fetchChunk))
	} else {
		err = fs.fetchBodies(ctx, b, uids.chunks(fetchChunk))
	}
	if err != nil {
		return errors.Join(err, b.salvage(ctx))
	}
	return b.flush(ctx)
}

// fetchBodies downloads and archives the given chunks of UIDs, one UID
// FETCH each.
func (fs *folderSync) fetchBodies(ctx context.Context, b *pending, chunks iter.Seq[[]imap.UID]) error {
	for chunk := range chunks {
		if fs.w.throttle.stopped() {
			return errThrottleStop
		}
		got, err := fs.fetchSet(ctx, b, imap.UIDSetNum(chunk...))
		if err == nil {
			err = fs.retryMissing(ctx, b, chunk, got)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (fs *folderSync) retryMissing(ctx context.Context, b *pending, asked []imap.UID, got map[imap.UID]bool) error {
	for _, uid := range asked {
		if got[uid] {
			continue
		}
		again, err := fs.fetchSet(ctx, b, imap.UIDSetNum(uid))
		if err != nil {
			return err
		}
		if !again[uid] {
			fs.w.st.fail(fmt.Errorf("folder %q uid %d: the server did not return the message", fs.f.Name, uid))
		}
	}
	return nil
}

// fetchSet runs one UID FETCH and archives what it returns. The
// connection's goroutine reads the bodies; the run's writers write them,
// and the fetch's placer adds them to the batch in the order they came
// (see stage.go).
func (fs *folderSync) fetchSet(ctx context.Context, b *pending, set imap.UIDSet) (map[imap.UID]bool, error) {
	opts := bodyFetch
	if fs.gmail {
		opts = gmailBodyFetch
	}
	cmd := fs.w.c.Fetch(set, opts)
	defer cmd.Close()
	g := newStager(fs.w.writers, fs.w.chunks, fs.f, (*archive.Spool).Write,
		func(j *stageJob[*fetched]) error { return b.placeFetched(ctx, j) })
	got, err := fs.readAll(cmd, g)
	if perr := g.stop(); perr != nil && !errors.Is(err, perr) {
		err = errors.Join(perr, err)
	}
	if err != nil {
		return got, err
	}
	if err := cmd.Close(); err != nil {
		return got, fmt.Errorf("fetch: %w", err)
	}
	return got, nil
}

// readAll reads the messages of a FETCH response into g.
func (fs *folderSync) readAll(cmd *imapclient.FetchCommand, g *stager[*fetched]) (map[imap.UID]bool, error) {
	got := map[imap.UID]bool{}
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		m, err := fs.readMessage(g, msg)
		if errors.Is(err, archive.ErrSource) {
			// The connection broke inside a literal. Close the client (and
			// wait for its reader) before the deferred cmd.Close drains the
			// response, so that only one goroutine touches the dead stream.
			fs.w.c.Close()
		}
		if err != nil {
			return got, err
		}
		if m != nil {
			got[m.uid] = true
		}
	}
	return got, nil
}

// fetched is one message read from a FETCH response, or linked to a
// content the archive holds.
type fetched struct {
	uid    imap.UID
	flags  []string
	date   time.Time
	staged *archive.Staged
	// With X-GM-EXT-1: Gmail's message id and labels; notDownloaded when
	// staged links to a content found by its id alone.
	msgID         uint64
	labels        []string
	notDownloaded bool
}

// readMessage consumes one FETCH response; its body goes to the writers
// as it is read, and the message to the placer once every item is read.
// It returns nil for a response without a body (for example an
// unsolicited FLAGS update) or without a UID, whose body is discarded.
func (fs *folderSync) readMessage(g *stager[*fetched], msg *imapclient.FetchMessageData) (*fetched, error) {
	m := &fetched{}
	var j *stageJob[*fetched]
	var err error
	for item := msg.Next(); item != nil; item = msg.Next() {
		// Not one more Next after a failure: it would drain a literal
		// the connection broke inside.
		if j, err = fs.readItem(g, m, j, item); err != nil {
			break
		}
	}
	if j == nil {
		return nil, err
	}
	g.queue(j) // the placer discards it when it was cut short or has no UID
	if err != nil || m.uid == 0 {
		return nil, err
	}
	return m, nil
}

// readItem reads one item of a FETCH response into m; the first body
// begins the message's job.
func (fs *folderSync) readItem(g *stager[*fetched], m *fetched, j *stageJob[*fetched], item imapclient.FetchItemData) (*stageJob[*fetched], error) {
	switch item := item.(type) {
	case imapclient.FetchItemDataUID:
		m.uid = item.UID
	case imapclient.FetchItemDataFlags:
		m.flags = flagStrings(item.Flags)
	case imapclient.FetchItemDataInternalDate:
		m.date = item.Time
	case imapclient.FetchItemDataGmailMsgID:
		m.msgID = item.MsgID
	case imapclient.FetchItemDataGmailLabels:
		m.labels = sortedLabels(item.Labels)
	case imapclient.FetchItemDataBodySection:
		if item.Literal == nil || j != nil {
			return j, nil
		}
		j, err := g.begin(m)
		if err != nil {
			return nil, err
		}
		return j, g.fill(j, &exactLiteral{r: item.Literal, left: item.Literal.Size(), dog: fs.dog})
	}
	return j, nil
}

// exactLiteral fails a literal that ends before its announced size: the
// client reports a connection closed mid-literal as a plain EOF, which
// would otherwise pass a truncated message as complete.
type exactLiteral struct {
	r    io.Reader
	left int64
	dog  *watchdog
}

func (e *exactLiteral) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if n > 0 {
		e.dog.touch()
	}
	if err == io.EOF && e.left > 0 {
		err = fmt.Errorf("message cut short, %d bytes missing: %w", e.left, io.ErrUnexpectedEOF)
	}
	return n, err
}

func flagStrings(flags []imap.Flag) []string {
	out := make([]string, 0, len(flags))
	for _, f := range flags {
		if f == "\\Recent" {
			continue
		}
		out = append(out, string(f))
	}
	slices.Sort(out)
	return out
}
