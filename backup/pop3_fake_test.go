package backup_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/internal/pop3fake"
	"github.com/mailkeep/mailkeep/transport"
)

// fakeMessage is message i of a fake maildrop: dot-leading lines, a long
// line every fifth message, 8-bit bytes.
func fakeMessage(i int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: a@example.org\r\nSubject: message %d\r\nMessage-ID: <%d@example.org>\r\n"+
		"Date: Mon, 2 Jan 2023 15:04:%02d +0100\r\n\r\n.\r\n..two\r\n.x\r\n\xe4\xf6\xfc body %d\r\n", i, i, i%60, i)
	if i%5 == 0 {
		b.WriteString(strings.Repeat("L", 10_000) + "\r\n")
	}
	return []byte(b.String())
}

func fakeMessages(from, n int) []pop3fake.Message {
	out := make([]pop3fake.Message, n)
	for i := range out {
		out[i] = pop3fake.Message{UIDL: fmt.Sprintf("uid-%d", from+i), Data: fakeMessage(from + i)}
	}
	return out
}

func dataOf(msgs []pop3fake.Message) [][]byte {
	out := make([][]byte, len(msgs))
	for i, m := range msgs {
		out[i] = m.Data
	}
	return out
}

func fakeOptions(srv *pop3fake.Server) backup.POP3Options {
	return backup.POP3Options{Dial: pop3Dialer(srv.Addr, "bob", "pw", nil)}
}

func count(cmds []string, prefix string) int {
	n := 0
	for _, c := range cmds {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func TestPOP3KeepThenDelete(t *testing.T) {
	t.Parallel()
	msgs := fakeMessages(1, 20)
	srv := pop3fake.Start(t, pop3fake.Options{}, msgs...)
	root := t.TempDir()
	opts := fakeOptions(srv)

	if res := mustPOP3(t, root, opts); res.Stats.NewMessages != 20 {
		t.Fatalf("first run stored %d messages, want 20", res.Stats.NewMessages)
	}
	sameStrings(t, "archive", contents(archived(t, root)), sortedStrings(dataOf(msgs)))
	for _, m := range archived(t, root) {
		if m.row.InternalDate.Year() != 2023 || m.row.InternalDate.Format("-0700") != "+0100" {
			t.Errorf("%s: INTERNALDATE %v, want the Date header", m.row.Key, m.row.InternalDate)
		}
	}

	srv.Add(fakeMessages(21, 3)...)
	if res := mustPOP3(t, root, opts); res.Stats.NewMessages != 3 {
		t.Fatalf("second run stored %d messages, want 3", res.Stats.NewMessages)
	}
	cmds := srv.Commands()
	if n := count(cmds, "RETR"); n != 23 || count(cmds, "DELE") != 0 {
		t.Fatalf("keep mode sent %d RETR (want 23) and %d DELE", n, count(cmds, "DELE"))
	}

	opts.Delete = true
	if res := mustPOP3(t, root, opts); res.Stats.NewMessages != 0 {
		t.Fatalf("delete run stored %d messages", res.Stats.NewMessages)
	}
	if left := srv.Messages(); len(left) != 0 {
		t.Fatalf("%d messages left on the server after delete mode", len(left))
	}
	all := archived(t, root)
	for _, m := range all {
		if m.row.ServerDeleted == 0 {
			t.Errorf("%s: no server_deleted_run", m.row.Key)
		}
	}
	res := mustPOP3(t, root, opts)
	if res.Stats.Gone != 23 {
		t.Errorf("run after the deletion marked %d gone, want 23", res.Stats.Gone)
	}
	if len(archived(t, root)) != 23 {
		t.Error("messages deleted from the server left the archive")
	}
}

// TestPOP3DuplicateUIDLs: messages that share a UIDL are told apart by
// content; identical ones are stored once; all are deleted in delete mode.
func TestPOP3DuplicateUIDLs(t *testing.T) {
	t.Parallel()
	a, b := fakeMessage(1), fakeMessage(2)
	srv := pop3fake.Start(t, pop3fake.Options{},
		pop3fake.Message{UIDL: "same", Data: a},
		pop3fake.Message{UIDL: "u2", Data: fakeMessage(3)})
	root := t.TempDir()
	opts := fakeOptions(srv)
	mustPOP3(t, root, opts)

	// The UIDL stored alone now comes twice, once with other content and
	// once more with the same content.
	srv.Add(pop3fake.Message{UIDL: "same", Data: b}, pop3fake.Message{UIDL: "same", Data: a})
	if res := mustPOP3(t, root, opts); res.Stats.NewMessages != 1 {
		t.Fatalf("stored %d messages, want 1 (the other content)", res.Stats.NewMessages)
	}
	if res := mustPOP3(t, root, opts); res.Stats.NewMessages != 0 {
		t.Fatalf("no-change run stored %d messages", res.Stats.NewMessages)
	}
	sameStrings(t, "archive", contents(archived(t, root)), sortedStrings([][]byte{a, b, fakeMessage(3)}))

	opts.Delete = true
	mustPOP3(t, root, opts)
	if left := srv.Messages(); len(left) != 0 {
		t.Fatalf("%d messages left after delete mode", len(left))
	}
	if n := len(archived(t, root)); n != 3 {
		t.Errorf("%d messages archived, want 3", n)
	}
}

// TestPOP3DuplicatesInOneRun: a first run that meets duplicate UIDLs.
func TestPOP3DuplicatesInOneRun(t *testing.T) {
	t.Parallel()
	a, b := fakeMessage(1), fakeMessage(2)
	srv := pop3fake.Start(t, pop3fake.Options{},
		pop3fake.Message{UIDL: "d", Data: a}, pop3fake.Message{UIDL: "d", Data: b},
		pop3fake.Message{UIDL: "d", Data: a})
	root := t.TempDir()
	opts := fakeOptions(srv)
	opts.Delete = true
	if res := mustPOP3(t, root, opts); res.Stats.NewMessages != 2 {
		t.Fatalf("stored %d, want 2", res.Stats.NewMessages)
	}
	if left := srv.Messages(); len(left) != 0 {
		t.Fatalf("%d messages left after delete mode", len(left))
	}
	sameStrings(t, "archive", contents(archived(t, root)), sortedStrings([][]byte{a, b}))
}

// TestPOP3ErrMidSession: a -ERR to one RETR fails that message only.
func TestPOP3ErrMidSession(t *testing.T) {
	t.Parallel()
	msgs := fakeMessages(1, 5)
	var fail atomic.Bool
	fail.Store(true)
	srv := pop3fake.Start(t, pop3fake.Options{Fault: func(_ int, cmd string, num int) pop3fake.Fault {
		if fail.Load() && cmd == "RETR" && num == 3 {
			return pop3fake.Fault{Err: "[SYS/PERM] cannot read message"}
		}
		return pop3fake.Fault{}
	}}, msgs...)
	root := t.TempDir()
	opts := fakeOptions(srv)
	opts.Delete = true
	res, err := runPOP3(t, root, opts)
	if !errors.Is(err, backup.ErrPartial) || res.Outcome != archive.OutcomePartial || res.Stats.NewMessages != 4 {
		t.Fatalf("run: %s, %+v, %v; want partial with 4 messages", res.Outcome, res.Stats, err)
	}
	if left := srv.Messages(); len(left) != 1 || left[0].UIDL != "uid-3" {
		t.Fatalf("server keeps %d messages, want uid-3 alone", len(left))
	}
	fail.Store(false)
	mustPOP3(t, root, opts)
	if left := srv.Messages(); len(left) != 0 {
		t.Fatalf("%d messages left", len(left))
	}
	sameStrings(t, "archive", contents(archived(t, root)), sortedStrings(dataOf(msgs)))
}

// TestPOP3EOFBeforeGreeting: the run fails with a temporary error after
// one retry, and the archive stays empty.
func TestPOP3EOFBeforeGreeting(t *testing.T) {
	t.Parallel()
	srv := pop3fake.Start(t, pop3fake.Options{Fault: func(_ int, cmd string, _ int) pop3fake.Fault {
		return pop3fake.Fault{HangUp: cmd == "GREETING"}
	}}, fakeMessages(1, 3)...)
	root := t.TempDir()
	res, err := runPOP3(t, root, fakeOptions(srv))
	if err == nil || res.Outcome != archive.OutcomeFailed || transport.Classify(err) != transport.Temporary {
		t.Fatalf("run: %s, %v; want a failed run with a temporary error", res.Outcome, err)
	}
	if n := srv.Sessions(); n != 2 {
		t.Errorf("%d connections, want 2 (one retry)", n)
	}
	if n := len(archived(t, root)); n != 0 {
		t.Errorf("%d messages archived", n)
	}
}

// TestPOP3LargerThanAnnounced: the archive holds what the server sent,
// whatever LIST said; absurd STAT and LIST figures are not trusted with
// memory.
func TestPOP3LargerThanAnnounced(t *testing.T) {
	t.Parallel()
	big := append(fakeMessage(1), strings.Repeat("y", 300_000)+"\r\n"...)
	srv := pop3fake.Start(t, pop3fake.Options{Stat: "4194304 9007199254740991"},
		pop3fake.Message{UIDL: "big", Data: big, ListSize: 10},
		pop3fake.Message{UIDL: "huge", Data: fakeMessage(2), ListSize: 1 << 52})
	root := t.TempDir()
	opts := fakeOptions(srv)
	opts.Delete = true
	mustPOP3(t, root, opts)
	sameStrings(t, "archive", contents(archived(t, root)), sortedStrings([][]byte{big, fakeMessage(2)}))
	if left := srv.Messages(); len(left) != 0 {
		t.Fatalf("%d messages left", len(left))
	}
}

// TestPOP3StagedInOrder: messages are written by the background writers,
// big ones streaming through a writer while the session reads them; each
// UIDL still gets its own content, and the catalog records the messages in
// the order the server listed them.
func TestPOP3StagedInOrder(t *testing.T) {
	t.Parallel()
	var msgs []pop3fake.Message
	for i := range 40 {
		data := fakeMessage(i)
		if i%7 == 3 {
			data = append(data, strings.Repeat(fmt.Sprintf("big %d\r\n", i), 300_000)...)
		}
		msgs = append(msgs, pop3fake.Message{UIDL: fmt.Sprintf("uid-%d", i), Data: data})
	}
	srv := pop3fake.Start(t, pop3fake.Options{}, msgs...)
	root := t.TempDir()
	opts := fakeOptions(srv)
	opts.BatchMessages = 9
	mustPOP3(t, root, opts)
	got := archived(t, root)
	byUIDL := map[string][]byte{}
	for _, m := range got {
		byUIDL[m.row.UIDL] = m.data
	}
	for _, m := range msgs {
		if !bytes.Equal(byUIDL[m.UIDL], m.Data) {
			t.Errorf("%s: archived %d bytes, want its own %d", m.UIDL, len(byUIDL[m.UIDL]), len(m.Data))
		}
	}
	rowsByUIDL := map[string]int64{}
	for _, m := range got {
		rowsByUIDL[m.row.UIDL] = m.row.ID
	}
	for i := 1; i < len(msgs); i++ {
		if rowsByUIDL[msgs[i-1].UIDL] >= rowsByUIDL[msgs[i].UIDL] {
			t.Errorf("%s recorded after %s", msgs[i-1].UIDL, msgs[i].UIDL)
		}
	}
}

// TestPOP3CutMidRetr: a connection cut in the middle of a message (twice,
// so the retry fails too) publishes nothing half-written; the messages
// before it are kept, nothing is deleted, and the next run completes.
func TestPOP3CutMidRetr(t *testing.T) {
	t.Parallel()
	msgs := fakeMessages(1, 6)
	var cut atomic.Bool
	cut.Store(true)
	srv := pop3fake.Start(t, pop3fake.Options{Fault: func(_ int, cmd string, num int) pop3fake.Fault {
		if cut.Load() && cmd == "RETR" && num == 5 {
			return pop3fake.Fault{CutAfter: 200}
		}
		return pop3fake.Fault{}
	}}, msgs...)
	root := t.TempDir()
	opts := fakeOptions(srv)
	opts.Delete = true
	res, err := runPOP3(t, root, opts)
	if !errors.Is(err, backup.ErrPartial) || res.Stats.NewMessages != 4 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("run: %s, %+v, %v; want partial, 4 messages, io.ErrUnexpectedEOF", res.Outcome, res.Stats, err)
	}
	if srv.Sessions() != 2 || len(srv.Messages()) != 6 {
		t.Fatalf("%d sessions, %d messages on the server; want 2 and all 6", srv.Sessions(), len(srv.Messages()))
	}
	sameStrings(t, "archive after the cut", contents(archived(t, root)), sortedStrings(dataOf(msgs[:4])))

	cut.Store(false)
	if res := mustPOP3(t, root, opts); res.Stats.NewMessages != 2 {
		t.Fatalf("next run stored %d, want 2", res.Stats.NewMessages)
	}
	sameStrings(t, "archive", contents(archived(t, root)), sortedStrings(dataOf(msgs)))
	if left := srv.Messages(); len(left) != 0 {
		t.Fatalf("%d messages left", len(left))
	}
}

// TestPOP3QuitRefused: deletions are recorded only after +OK to QUIT; a
// later run deletes what is still there, after checking the archive.
func TestPOP3QuitRefused(t *testing.T) {
	t.Parallel()
	var refuse atomic.Bool
	refuse.Store(true)
	srv := pop3fake.Start(t, pop3fake.Options{Fault: func(_ int, cmd string, _ int) pop3fake.Fault {
		if refuse.Load() && cmd == "QUIT" {
			return pop3fake.Fault{Err: "[SYS/TEMP] cannot commit"}
		}
		return pop3fake.Fault{}
	}}, fakeMessages(1, 4)...)
	root := t.TempDir()
	opts := fakeOptions(srv)
	opts.Delete = true
	res, err := runPOP3(t, root, opts)
	if !errors.Is(err, backup.ErrPartial) || res.Stats.NewMessages != 4 {
		t.Fatalf("run: %s, %+v, %v; want partial with 4 messages", res.Outcome, res.Stats, err)
	}
	if n := len(srv.Messages()); n != 4 {
		t.Fatalf("%d messages on the server, want 4", n)
	}
	for _, m := range archived(t, root) {
		if m.row.ServerDeleted != 0 {
			t.Fatalf("%s recorded as deleted after a refused QUIT", m.row.Key)
		}
	}
	refuse.Store(false)
	if res := mustPOP3(t, root, opts); res.Stats.NewMessages != 0 {
		t.Fatalf("next run stored %d messages", res.Stats.NewMessages)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("%d messages left", n)
	}
	for _, m := range archived(t, root) {
		if m.row.ServerDeleted == 0 {
			t.Errorf("%s: no server_deleted_run", m.row.Key)
		}
	}
}

// TestPOP3DamagedArchiveNotDeleted: a message whose archived copy does not
// check out stays on the server.
func TestPOP3DamagedArchiveNotDeleted(t *testing.T) {
	t.Parallel()
	srv := pop3fake.Start(t, pop3fake.Options{}, fakeMessages(1, 3)...)
	root := t.TempDir()
	opts := fakeOptions(srv)
	mustPOP3(t, root, opts)
	s := archived(t, root)
	victim := filepath.Join(root, pop3Account, "mail/INBOX/.mk/cur", s[1].row.File)
	data, _ := os.ReadFile(victim)
	data[len(data)/2] ^= 0x55
	if err := os.WriteFile(victim, data, 0o640); err != nil {
		t.Fatal(err)
	}
	opts.Delete = true
	res, err := runPOP3(t, root, opts)
	if !errors.Is(err, backup.ErrPartial) || res.Stats.Errors != 1 {
		t.Fatalf("run: %s, %+v, %v; want partial with one error", res.Outcome, res.Stats, err)
	}
	if left := srv.Messages(); len(left) != 1 || left[0].UIDL != s[1].row.UIDL {
		t.Fatalf("server keeps %d messages, want %s alone", len(left), s[1].row.UIDL)
	}
}

// TestPOP3NoUIDL: without UIDL the run fails with advice, unless headers
// are hashed; identical headers are told apart by content.
func TestPOP3NoUIDL(t *testing.T) {
	t.Parallel()
	same := "From: a@example.org\r\nSubject: same header\r\n\r\n"
	msgs := []pop3fake.Message{
		{Data: fakeMessage(1)}, {Data: []byte(same + "first body\r\n")}, {Data: []byte(same + "second body\r\n")},
	}
	srv := pop3fake.Start(t, pop3fake.Options{NoUIDL: true}, msgs...)
	root := t.TempDir()
	opts := fakeOptions(srv)
	res, err := runPOP3(t, root, opts)
	if err == nil || !strings.Contains(err.Error(), "pop3.no_uidl: hash") || transport.Classify(err) != transport.Permanent || res.Outcome != archive.OutcomeFailed {
		t.Fatalf("run without UIDL: %s, %v; want a permanent error naming pop3.no_uidl", res.Outcome, err)
	}
	opts.HashWithoutUIDL = true
	if res := mustPOP3(t, root, opts); res.Stats.NewMessages != 3 {
		t.Fatalf("stored %d, want 3", res.Stats.NewMessages)
	}
	srv.Add(pop3fake.Message{Data: fakeMessage(4)})
	if res := mustPOP3(t, root, opts); res.Stats.NewMessages != 1 {
		t.Fatalf("second run stored %d, want 1", res.Stats.NewMessages)
	}
	if n := count(srv.Commands(), "RETR"); n != 3+3 {
		t.Errorf("%d RETR, want 6 (the two with one header are retrieved each run)", n)
	}
	opts.Delete = true
	mustPOP3(t, root, opts)
	if left := srv.Messages(); len(left) != 0 {
		t.Fatalf("%d messages left", len(left))
	}
	sameStrings(t, "archive", contents(archived(t, root)), sortedStrings(append(dataOf(msgs), fakeMessage(4))))
}

// TestPOP3NewUIDLs: a server that renumbers its UIDLs does not get its
// messages stored twice.
func TestPOP3NewUIDLs(t *testing.T) {
	t.Parallel()
	msgs := fakeMessages(1, 4)
	srv := pop3fake.Start(t, pop3fake.Options{}, msgs...)
	root := t.TempDir()
	mustPOP3(t, root, fakeOptions(srv))
	for i := range msgs {
		msgs[i].UIDL = fmt.Sprintf("new-%d", i)
	}
	srv2 := pop3fake.Start(t, pop3fake.Options{}, msgs...)
	if res := mustPOP3(t, root, fakeOptions(srv2)); res.Stats.NewMessages != 0 || res.Stats.Gone != 0 {
		t.Fatalf("after new UIDLs: %+v; want nothing new, nothing gone", res.Stats)
	}
	for _, m := range archived(t, root) {
		if !strings.HasPrefix(m.row.UIDL, "new-") {
			t.Errorf("row %s has identity %q, want the new UIDL", m.row.Key, m.row.UIDL)
		}
	}
	res := mustPOP3(t, root, fakeOptions(srv2))
	if n := count(srv2.Commands(), "RETR"); n != 4 || res.Stats.NewMessages != 0 {
		t.Errorf("%d RETR, %d new; want the 4 renumbered retrieved once", n, res.Stats.NewMessages)
	}
}

// TestPOP3LongUIDL: UIDLs longer than RFC 1939 allows get short keys.
func TestPOP3LongUIDL(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 500)
	srv := pop3fake.Start(t, pop3fake.Options{}, pop3fake.Message{UIDL: long, Data: fakeMessage(1)})
	root := t.TempDir()
	mustPOP3(t, root, fakeOptions(srv))
	if res := mustPOP3(t, root, fakeOptions(srv)); res.Stats.NewMessages != 0 {
		t.Fatalf("second run stored %d", res.Stats.NewMessages)
	}
	if s := archived(t, root); len(s) != 1 || len(s[0].row.Key) > 80 {
		t.Errorf("archived %d, key %q", len(s), s[0].row.Key)
	}
}

// TestPOP3AdoptsOrphans: complete files without catalog rows (a crash
// between the renames and the catalog commit) are adopted, not retrieved.
func TestPOP3AdoptsOrphans(t *testing.T) {
	t.Parallel()
	msgs := fakeMessages(1, 5)
	srv := pop3fake.Start(t, pop3fake.Options{}, msgs...)
	first := t.TempDir()
	mustPOP3(t, first, fakeOptions(srv))

	second := t.TempDir()
	a, err := archive.OpenWriter(t.Context(), second, pop3Account, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := a.Folder("INBOX", 0)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	for _, m := range archived(t, first)[:3] {
		src := filepath.Join(first, pop3Account, "mail/INBOX/.mk/cur", m.row.File)
		data, _ := os.ReadFile(src)
		st, _ := os.Stat(src)
		dst := filepath.Join(f.Dir, "cur", m.row.File)
		os.WriteFile(dst, data, 0o640)
		os.Chtimes(dst, st.ModTime(), st.ModTime())
	}
	srv2 := pop3fake.Start(t, pop3fake.Options{}, msgs...)
	if res := mustPOP3(t, second, fakeOptions(srv2)); res.Stats.NewMessages != 2 {
		t.Fatalf("stored %d, want 2 (3 adopted)", res.Stats.NewMessages)
	}
	if n := count(srv2.Commands(), "RETR"); n != 2 {
		t.Errorf("%d RETR, want 2", n)
	}
	sameStrings(t, "archive", contents(archived(t, second)), sortedStrings(dataOf(msgs)))
}

// TestPOP3DiskFullInjected: a write to the archive that fails as a full
// disk does stops the run before any DELE or QUIT.
func TestPOP3DiskFullInjected(t *testing.T) {
	msgs := fakeMessages(1, 12)
	srv := pop3fake.Start(t, pop3fake.Options{}, msgs...)
	var n atomic.Int32 // messages are written on more than one goroutine
	root := t.TempDir()
	backup.SetPOP3Write(t, func(sp *archive.Spool, f *archive.Folder, r io.Reader) (*archive.Staged, error) {
		if strings.HasPrefix(f.Dir, root) && n.Add(1) == 10 { // this test's archive only
			io.CopyN(io.Discard, r, 100)
			return nil, &os.PathError{Op: "write", Path: "tmp/x", Err: syscall.ENOSPC}
		}
		return sp.Write(f, r)
	})
	opts := fakeOptions(srv)
	opts.Delete = true
	res, err := runPOP3(t, root, opts)
	if !errors.Is(err, syscall.ENOSPC) || res.Outcome != archive.OutcomeFailed {
		t.Fatalf("run: %s, %v; want failed with ENOSPC", res.Outcome, err)
	}
	cmds := srv.Commands()
	if count(cmds, "DELE") != 0 || count(cmds, "QUIT") != 0 || len(srv.Messages()) != 12 {
		t.Fatalf("after a full disk: %d DELE, %d QUIT, %d messages on the server; want 0, 0, 12",
			count(cmds, "DELE"), count(cmds, "QUIT"), len(srv.Messages()))
	}
	if got := archived(t, root); len(got) != 7 {
		t.Errorf("%d messages archived, want the 7 of the first batch", len(got))
	}
}

// TestPOP3Cancelled: cancelling the context ends the session without QUIT.
func TestPOP3Cancelled(t *testing.T) {
	t.Parallel()
	msgs := fakeMessages(1, 30)
	srv := pop3fake.Start(t, pop3fake.Options{}, msgs...)
	root := t.TempDir()
	a, err := archive.OpenWriter(t.Context(), root, pop3Account, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	opts := fakeOptions(srv)
	opts.Delete = true
	opts.Progress = &cancelAfter{n: 10, cancel: cancel}
	res, err := backup.POP3(ctx, a, opts)
	if res.Outcome != archive.OutcomeInterrupted || err == nil {
		t.Fatalf("run: %s, %v; want interrupted", res.Outcome, err)
	}
	time.Sleep(50 * time.Millisecond) // let the server see the connection close
	if cmds := srv.Commands(); count(cmds, "QUIT") != 0 || len(srv.Messages()) != 30 {
		t.Fatalf("after cancellation: %d QUIT, %d messages on the server", count(cmds, "QUIT"), len(srv.Messages()))
	}
}

type cancelAfter struct {
	n      int
	cancel func()
}

func (*cancelAfter) Start(int, int64) {}
func (*cancelAfter) Folder(string)    {}
func (c *cancelAfter) Message(int64) {
	if c.n--; c.n <= 0 {
		c.cancel()
	}
}
