package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mailkeep/mailkeep/archive"
)

// fetch retrieves the messages of list (pipelined where the server allows)
// and archives them in batches. After a failure reading from the server,
// the messages retrieved completely are still made durable and recorded.
func (s *pop3Session) fetch(ctx context.Context, list []listed) error {
	if len(list) == 0 {
		return nil
	}
	byNum := make(map[int]listed, len(list))
	nums := make([]int, len(list))
	for i, l := range list {
		byNum[l.num], nums[i] = l, l.num
	}
	w, pool := s.pop3Staging()
	s.stage = newStager(w, pool, s.folder, writePOP3, func(j *stageJob[listed]) error { return s.placeStaged(ctx, j) })
	err := s.c.RetrEach(ctx, nums, func(num int, body io.Reader, err error) error {
		return s.receive(byNum[num], body, err)
	})
	if perr := s.stage.stop(); perr != nil {
		if err == nil || err == perr {
			return perr
		}
		return errors.Join(perr, err)
	}
	return errors.Join(err, s.flush(ctx))
}

// receive hands one retrieved message to the writers. A -ERR answer (the
// message was deleted meanwhile by another client, or the server cannot
// read it) is recorded, and the session goes on.
func (s *pop3Session) receive(l listed, body io.Reader, rerr error) error {
	if rerr != nil {
		s.st.fail(fmt.Errorf("message %d (%s): %w", l.num, describeID(l.id), rerr))
		return nil
	}
	return s.stage.receive(l, body)
}

// placeRetrieved notes a size that differs from LIST, then places the message.
func (s *pop3Session) placeRetrieved(ctx context.Context, l listed, st *archive.Staged, date time.Time) error {
	if st.Size != l.size {
		s.resized++
		s.opts.Log.Debug("message size differs from LIST", "num", l.num, "list", l.size, "retrieved", st.Size)
	}
	return s.place(ctx, l, st, date)
}

// pop3Write is archive.Spool.Write; tests replace it to fail like a full disk.
var pop3Write = (*archive.Spool).Write

// place records a retrieved message: as a message the archive already
// holds (a duplicate identity resolved by content, or content the server
// now lists under a new UIDL), or as a new one.
func (s *pop3Session) place(ctx context.Context, l listed, st *archive.Staged, date time.Time) error {
	id := l.id
	if l.dup {
		id = contentIdentity(l.id, st.SHA256)
		if m := s.idx.dupRow(l.id, st.SHA256); m != nil {
			st.Discard()
			return s.claim(ctx, l.num, m, m.UIDL)
		}
	}
	same, err := s.idx.withContent(ctx, st.SHA256)
	if err != nil {
		st.Discard()
		return fatal(err)
	}
	for _, m := range same {
		if m.ID != 0 && s.unclaimed(m) {
			st.Discard()
			s.opts.Log.Info("the server lists an archived message under a new UIDL; not stored again",
				"old", describeID(m.UIDL), "new", describeID(id))
			return s.claim(ctx, l.num, m, id)
		}
	}
	return s.add(ctx, l.num, id, st, date)
}

// claim notes that listed message num is archived as m, recorded under
// identity id from now on.
func (s *pop3Session) claim(ctx context.Context, num int, m *archive.POP3Message, id string) error {
	if m.ID == 0 { // stored in this run, possibly not yet durable
		s.fresh[num] = m.Key
		return nil
	}
	if id != m.UIDL || m.GoneRun != 0 {
		// Recorded with the next batch (see flushClaims); the session
		// goes by its index meanwhile.
		s.claims = append(s.claims, archive.UIDLChange{ID: m.ID, UIDL: id})
		delete(s.idx.byID, m.UIDL)
		m.UIDL, m.GoneRun = id, 0
		s.idx.byID[id] = m
		s.listedIDs[id] = true
	}
	s.old[num] = m
	if len(s.claims) >= s.opts.BatchMessages {
		return s.flushClaims(ctx)
	}
	return nil
}

// flushClaims records the new identities of the messages claimed since the
// last flush, in one transaction: a server that lists every archived
// message under a new UIDL (a migrated mailbox) would otherwise cost a
// commit per message. Before it, a crash only costs their download again:
// the next run finds their UIDLs unknown and claims them anew.
func (s *pop3Session) flushClaims(ctx context.Context) error {
	if err := s.a.Catalog.SetUIDLs(ctx, s.claims, s.run); err != nil {
		return fatal(err)
	}
	s.claims = s.claims[:0]
	return nil
}

// add queues a new message for the next batch and commits the batch when
// it is full.
func (s *pop3Session) add(ctx context.Context, num int, id string, st *archive.Staged, date time.Time) error {
	if !validDate(date) {
		date = s.start
	}
	key := archive.POP3Key(id)
	mf, err := s.batch.Add(st, key, "", date)
	if err != nil {
		return fatal(err)
	}
	row := archive.Message{FolderID: s.state.ID, UIDL: id, Key: key, File: mf.Name(), SHA256: st.SHA256,
		Size: st.Size, VSize: st.VSize, InternalDate: date, MessageID: st.MessageID, FileSHA256: st.FileSHA256}
	s.rows = append(s.rows, row)
	s.idx.add(&archive.POP3Message{Message: row, Retrieved: s.start})
	s.fresh[num] = key
	s.opts.Progress.Message(st.Size)
	if s.batch.Len() >= s.opts.BatchMessages || s.batch.Bytes() >= s.opts.BatchBytes {
		return s.flush(ctx)
	}
	return nil
}

// flush makes the batch's files durable, then records them
// (archive.Writer.Publish).
func (s *pop3Session) flush(ctx context.Context) error {
	if err := s.flushClaims(ctx); err != nil {
		return err
	}
	if s.batch.Len() == 0 {
		return nil
	}
	if err := s.a.Publish(ctx, &s.batch, s.rows, s.run); err != nil {
		return fatal(err)
	}
	s.opts.committed()
	n, size := len(s.rows), s.batch.Bytes()
	s.st.add(func(st *archive.RunStats) { st.NewMessages += n; st.NewBytes += size })
	s.batch.Reset()
	s.rows = s.rows[:0]
	return nil
}

// validDate reports whether t can be a Maildir file's mtime as Dovecot
// reads it (unsigned 32-bit seconds).
func validDate(t time.Time) bool {
	return !t.IsZero() && t.Unix() > 0 && t.Unix() < 1<<32
}

// describeID renders an identity for messages and logs.
func describeID(id string) string { return fmt.Sprintf("UIDL %q", id) }
