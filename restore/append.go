package restore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/archive"
)

// window is how many APPENDs a connection keeps in flight: each is sent
// without waiting for the answers to the ones before it.
const window = 32

// bufferLimit: a message up to this size is read from the archive and
// verified completely before its APPEND begins. A larger one is streamed,
// and verified as it goes (see sendBody).
const bufferLimit = 4 << 20

// damagedError marks a message the archive cannot give back as recorded:
// its file is missing, unreadable, of another size or another SHA-256.
type damagedError struct{ err error }

func (e damagedError) Error() string { return "archive: " + e.err.Error() }
func (e damagedError) Unwrap() error { return e.err }

// errConnLost marks a folder attempt that lost its connection; the folder
// is resumed on a new one.
var errConnLost = errors.New("connection lost")

// refusal reports whether the server answered an APPEND with NO or BAD.
func refusal(err error) bool {
	var ie *imap.Error
	return errors.As(err, &ie)
}

// pendingAppend is an APPEND whose message is sent and whose answer is awaited.
type pendingAppend struct {
	cmd *imapclient.AppendCommand
	indexed
}

// sendPage is how many messages of the folder's list are read from the
// catalog at a time to be sent (a variable for the tests).
var sendPage = 256

// appendAll APPENDs the messages of the folder's list that the target
// lacks and no earlier attempt settled, in order, keeping up to window
// commands in flight on the connection. It reads them from the catalog a
// page at a time. Messages the server refuses, or the archive cannot give
// back, are recorded as failed and the others go on. It returns an error
// wrapping errConnLost when the connection went away; fr.unknown then
// says whether APPENDs were in flight, whose fate is unknown.
//
// The answers are taken by the sender itself, half a window at a time:
// it waits for the newest of the older half first, and the server answers
// APPENDs in order, so a server slower than the sender wakes it once per
// half window, not once per message. The server always has the other half
// to work on.
func (fr *folderRun) appendAll() error {
	var inflight []pendingAppend
	var lost error
	reap := func(n int) {
		if n > 0 {
			inflight[n-1].cmd.Wait()
		}
		for _, p := range inflight[:n] {
			if err := fr.answer(p); err != nil && lost == nil {
				lost = err
			}
		}
		inflight = append(inflight[:0], inflight[n:]...)
	}
	var sendErr error
	for after := -1; sendErr == nil && lost == nil; {
		page, last, err := fr.toSend(after)
		if err != nil || last < 0 {
			sendErr = err
			break
		}
		after = last
		for _, t := range page {
			if err := fr.ctx.Err(); err != nil {
				sendErr = err
				break
			}
			switch {
			case t.m.Size > bufferLimit:
				// A damaged file is found only while it streams, and then
				// the connection must be dropped: let nothing else be in
				// flight.
				reap(len(inflight))
			case len(inflight) == window:
				reap(window / 2)
			}
			if lost != nil {
				break
			}
			p, err := fr.send(t)
			if err != nil {
				sendErr = err
				break
			}
			if p.cmd != nil {
				inflight = append(inflight, p)
			}
		}
	}
	reap(len(inflight))
	return errors.Join(sendErr, lost)
}

// toSend reads the next page of messages to send after place after: the
// ones the target lacks that no earlier attempt settled. last is the last
// place the page looked at, -1 at the end of the list.
func (fr *folderRun) toSend(after int) (page []indexed, last int, err error) {
	ps, err := fr.mdb.missing(fr.ctx, after, sendPage)
	if err != nil || len(ps) == 0 {
		return nil, -1, err
	}
	last = ps[len(ps)-1].i
	fr.mu.Lock()
	ps = slices.DeleteFunc(ps, func(p place) bool { return fr.settled[p.i] })
	fr.mu.Unlock()
	page, err = fr.messages(ps)
	return page, last, err
}

// answer records the server's answer to an APPEND. It returns an error
// when the connection was lost before the answer came.
func (fr *folderRun) answer(p pendingAppend) error {
	data, err := p.cmd.Wait()
	switch {
	case err == nil:
		fr.appendedAs(p.indexed, data)
	case refusal(err):
		fr.failed(p.i, p.m, fmt.Errorf("server refused it: %w", err))
	default:
		fr.unknown.Store(true)
		return fmt.Errorf("%w: %w", errConnLost, err)
	}
	return nil
}

// send starts the APPEND of t and sends its body. It returns a zero
// pendingAppend when the message failed without an APPEND in flight.
func (fr *folderRun) send(t indexed) (pendingAppend, error) {
	i, m := t.i, t.m
	if err := overLimit(m.Size, fr.limit); err != nil {
		fr.failed(i, m, err)
		return pendingAppend{}, nil
	}
	var body io.Reader // nil: the message is in fr.buf, verified
	if m.Size <= bufferLimit {
		if err := fr.readVerified(m); err != nil {
			fr.failed(i, m, err)
			return pendingAppend{}, nil
		}
	} else {
		rc, err := fr.open(m)
		if err != nil {
			fr.failed(i, m, damagedError{err})
			return pendingAppend{}, nil
		}
		defer rc.Close()
		body = rc
	}
	flags, dropped := appendFlags(m.Flags)
	if len(dropped) > 0 {
		fr.log.Warn("flags left out: not valid in APPEND", "folder", fr.job.target, "key", m.Key, "flags", dropped)
	}
	cmd := fr.c.Append(fr.job.target, m.Size, &imap.AppendOptions{Flags: flags, Time: m.InternalDate})
	var err error
	if body == nil {
		_, err = cmd.Write(fr.buf.Bytes())
	} else {
		err = sendBody(cmd, body, m.Size)
	}
	var damaged damagedError
	if errors.As(err, &damaged) {
		// The literal is incomplete: only closing the connection ends it,
		// and the server then discards the unfinished APPEND.
		fr.c.Close()
	}
	if cerr := cmd.Close(); err == nil {
		err = cerr
	}
	switch {
	case err == nil:
		return pendingAppend{cmd: cmd, indexed: t}, nil
	case errors.As(err, &damaged):
		fr.failed(i, m, err)
	case refusal(err):
		// Refused before the literal was sent (every earlier answer has
		// arrived). The client library closes the connection after a
		// refused synchronizing literal.
		fr.failed(i, m, fmt.Errorf("server refused it: %w", err))
		if !closed(fr.c) {
			return pendingAppend{}, nil
		}
	default:
		fr.unknown.Store(true)
	}
	return pendingAppend{}, fmt.Errorf("%w: append: %w", errConnLost, err)
}

// appendLimit is the APPENDLIMIT the server announces (RFC 7889), or -1.
func appendLimit(c *imapclient.Client) int64 {
	if limit, ok := c.Caps().AppendLimit(); ok && limit != nil {
		return int64(*limit)
	}
	return -1
}

// overLimit refuses, before anything is sent, a message larger than the
// server's APPENDLIMIT (limit, -1 for none): such a server may answer an
// oversized literal by closing the connection, which would also cost the
// APPENDs in flight beside it.
func overLimit(size, limit int64) error {
	if limit >= 0 && size > limit {
		return fmt.Errorf("%d bytes, over the server's APPENDLIMIT of %d bytes: not sent", size, limit)
	}
	return nil
}

// readVerified reads a message into fr.buf and checks it against the catalog.
func (fr *folderRun) readVerified(m archive.Message) error {
	rc, err := fr.open(m)
	if err != nil {
		return damagedError{err}
	}
	defer rc.Close()
	return readInto(fr.buf, rc, m.Size)
}

// readInto reads a message of size bytes (at most bufferLimit) from r, the
// archive's verified stream, into buf (see sendBody). buf is grown once to
// hold it, to at most bufferLimit: Buffer.Grow would take twice the
// capacity plus the size. Buffer.ReadFrom wants MinRead bytes free at each
// read, even the last, so buf gets that much more: else it would double
// itself, copying the message, before it reads the end.
func readInto(buf *bytes.Buffer, r io.Reader, size int64) error {
	buf.Reset()
	if need := int(size) + bytes.MinRead; buf.Cap() < need {
		*buf = *bytes.NewBuffer(make([]byte, 0, min(max(need, 2*buf.Cap()), bufferLimit+bytes.MinRead)))
	}
	return sendBody(buf, r, size)
}

// sendBody writes the message into the APPEND literal as it is read from
// the archive's verified stream, all but its last byte. Only when the
// stream has ended cleanly (exactly the recorded size and SHA-256, see
// archive.Folder.OpenMessage) does it write the last byte. A damaged file
// therefore never completes a literal, and no damaged message is stored.
func sendBody(w io.Writer, r io.Reader, size int64) error {
	err := archive.CopyVerified(w, &archiveReader{r: r}, size)
	if d := (damagedError{}); errors.Is(err, archive.ErrDamaged) && !errors.As(err, &d) {
		return damagedError{err} // longer than its row says
	}
	return err
}

// archiveReader marks read errors as damage, to tell them from write
// errors (the connection): the verified stream reports every mismatch as
// an error, and a file that ends early as archive.ErrDamaged.
type archiveReader struct{ r io.Reader }

func (a *archiveReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if err != nil && err != io.EOF {
		err = damagedError{err}
	}
	return n, err
}

func closed(c *imapclient.Client) bool {
	select {
	case <-c.Closed():
		return true
	default:
		return false
	}
}

// appendedAs records an APPEND answered OK, with the UID it was given
// where the server said (APPENDUID), for the labels a restore with
// labels sets.
func (fr *folderRun) appendedAs(t indexed, data *imap.AppendData) {
	switch {
	case fr.uids == nil:
	case data != nil && data.UID != 0:
		fr.setUID(t.i, data.UID)
	default:
		fr.noUID.Add(1)
	}
	fr.appended(t.i, t.m.Size)
}
