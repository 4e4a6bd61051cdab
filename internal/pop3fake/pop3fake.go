// Package pop3fake is a small in-process POP3 server for tests: a maildrop
// in memory, served on a loopback port, with faults a test can inject by
// command (a -ERR answer, a connection cut before or in the middle of an
// answer, sizes that lie).
//
// It speaks what mailkeep's client uses: CAPA, USER/PASS (any password is
// accepted), STAT, LIST, UIDL, RETR, TOP, DELE, RSET, NOOP and QUIT. It
// dot-stuffs message data as RFC 1939 asks, answers pipelined commands in
// order, and deletes marked messages only when a session ends with QUIT.
//
// The package is meant for _test.go files only.
package pop3fake

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Message is one message of the maildrop.
type Message struct {
	UIDL string
	Data []byte
	// ListSize is the size LIST announces; 0 means len(Data).
	ListSize int64
}

// Fault is what the server does instead of answering a command normally.
// The zero Fault answers normally.
type Fault struct {
	Err      string // answer "-ERR " + Err
	HangUp   bool   // close the connection without answering
	CutAfter int    // send this many bytes of the answer (> 0), then close
}

// Options configure a Server.
type Options struct {
	NoUIDL       bool   // answer -ERR to UIDL and leave it out of CAPA
	NoPipelining bool   // leave PIPELINING out of CAPA
	Stat         string // the text after +OK to STAT; "" means the true count and size
	// Fault, if set, is asked before each answer: session counts sessions
	// from 1, cmd is the command verb in upper case ("GREETING" before the
	// greeting), and num is its first argument as a number (0 if none).
	Fault func(session int, cmd string, num int) Fault
}

// Server is a running fake POP3 server.
type Server struct {
	Addr string
	opts Options
	ln   net.Listener
	wg   sync.WaitGroup

	mu       sync.Mutex
	msgs     []*item
	seq      int
	sessions int
	conns    map[net.Conn]bool
	log      []string
}

// Start serves msgs on 127.0.0.1 until the test ends.
func Start(t testing.TB, opts Options, msgs ...Message) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: ln.Addr().String(), opts: opts, ln: ln, conns: map[net.Conn]bool{}}
	s.Add(msgs...)
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

// Add delivers messages to the end of the maildrop.
func (s *Server) Add(msgs ...Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range msgs {
		m.Data = bytes.Clone(m.Data)
		s.seq++
		s.msgs = append(s.msgs, &item{seq: s.seq, Message: m})
	}
}

// Remove deletes the messages with this UIDL, as another client would.
func (s *Server) Remove(uidl string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = slices.DeleteFunc(s.msgs, func(it *item) bool { return it.UIDL == uidl })
}

// item is a message with an identity of its own, so that a deletion hits
// the marked message even when another has the same UIDL and data.
type item struct {
	seq int
	Message
}

// Messages returns the maildrop as it is now.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.msgs))
	for i, it := range s.msgs {
		out[i] = it.Message
	}
	return out
}

// Commands returns every command line received so far, in order, with
// PASS arguments masked.
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...)
}

// Sessions is the number of connections accepted so far.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

func (s *Server) close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.sessions++
		n := s.sessions
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				c.Close()
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
			}()
			(&session{srv: s, n: n, conn: c, r: bufio.NewReader(c), w: bufio.NewWriter(c)}).serve()
		}()
	}
}

// session is one client connection.
type session struct {
	srv     *Server
	n       int
	conn    net.Conn
	r       *bufio.Reader
	w       *bufio.Writer
	authed  bool
	msgs    []*item // snapshot at login
	deleted map[int]bool
}

func (ss *session) serve() {
	if !ss.answer(ss.fault("GREETING", 0), "+OK fake POP3 ready\r\n") {
		return
	}
	for {
		line, err := ss.r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		ss.record(verb, line)
		num, _ := strconv.Atoi(strings.Fields(arg + " x")[0])
		f := ss.fault(verb, num)
		if f.HangUp || f.Err != "" {
			// The command is not carried out: a QUIT refused commits nothing.
			if !ss.answer(f, "") || verb == "QUIT" {
				return
			}
			continue
		}
		reply, quit := ss.handle(verb, arg)
		if !ss.answer(f, reply) || quit {
			return
		}
	}
}

func (ss *session) fault(verb string, num int) Fault {
	if ss.srv.opts.Fault == nil {
		return Fault{}
	}
	return ss.srv.opts.Fault(ss.n, verb, num)
}

func (ss *session) record(verb, line string) {
	if verb == "PASS" {
		line = "PASS ***"
	}
	ss.srv.mu.Lock()
	ss.srv.log = append(ss.srv.log, line)
	ss.srv.mu.Unlock()
}

// answer sends reply, or what the fault f says instead; false ends the
// session.
func (ss *session) answer(f Fault, reply string) bool {
	switch {
	case f.HangUp:
		return false
	case f.Err != "":
		reply = "-ERR " + f.Err + "\r\n"
	case f.CutAfter > 0:
		ss.w.WriteString(reply[:min(f.CutAfter, len(reply))])
		ss.w.Flush()
		return false
	}
	ss.w.WriteString(reply)
	// Answers to pipelined commands go out together.
	if ss.r.Buffered() == 0 {
		return ss.w.Flush() == nil
	}
	return true
}

// handle returns the answer to one command and whether the session ends.
func (ss *session) handle(verb, arg string) (string, bool) {
	switch verb {
	case "CAPA":
		return ss.capa(), false
	case "QUIT":
		if ss.authed {
			ss.commit()
		}
		return "+OK bye\r\n", true
	case "NOOP":
		return "+OK\r\n", false
	case "USER":
		return "+OK\r\n", false
	case "PASS":
		ss.login()
		return "+OK logged in\r\n", false
	}
	if !ss.authed {
		return "-ERR log in first\r\n", false
	}
	return ss.transaction(verb, arg), false
}

func (ss *session) capa() string {
	caps := []string{"TOP", "USER", "RESP-CODES"}
	if !ss.srv.opts.NoUIDL {
		caps = append(caps, "UIDL")
	}
	if !ss.srv.opts.NoPipelining {
		caps = append(caps, "PIPELINING")
	}
	return "+OK\r\n" + strings.Join(caps, "\r\n") + "\r\n.\r\n"
}

func (ss *session) login() {
	ss.srv.mu.Lock()
	ss.msgs = append([]*item(nil), ss.srv.msgs...)
	ss.srv.mu.Unlock()
	ss.authed, ss.deleted = true, map[int]bool{}
}

// commit applies the session's deletions to the server's maildrop.
func (ss *session) commit() {
	ss.srv.mu.Lock()
	defer ss.srv.mu.Unlock()
	gone := map[int]bool{}
	for num := range ss.deleted {
		gone[ss.msgs[num-1].seq] = true
	}
	var keep []*item
	for _, it := range ss.srv.msgs {
		if !gone[it.seq] {
			keep = append(keep, it)
		}
	}
	ss.srv.msgs = keep
}

func (ss *session) transaction(verb, arg string) string {
	switch verb {
	case "STAT":
		return ss.stat()
	case "LIST", "UIDL":
		return ss.listing(verb)
	case "RSET":
		ss.deleted = map[int]bool{}
		return "+OK\r\n"
	}
	f := strings.Fields(arg)
	if len(f) == 0 {
		return "-ERR missing argument\r\n"
	}
	num, err := strconv.Atoi(f[0])
	if err != nil || num < 1 || num > len(ss.msgs) || ss.deleted[num] {
		return "-ERR [SYS/PERM] no such message\r\n"
	}
	m := ss.msgs[num-1]
	switch verb {
	case "RETR":
		return "+OK message follows\r\n" + dotStuff(m.Data)
	case "TOP":
		head, _, _ := bytes.Cut(m.Data, []byte("\r\n\r\n"))
		return "+OK top follows\r\n" + dotStuff(append(head, "\r\n\r\n"...))
	case "DELE":
		ss.deleted[num] = true
		return "+OK marked\r\n"
	}
	return "-ERR unknown command\r\n"
}

func (ss *session) stat() string {
	if ss.srv.opts.Stat != "" {
		return "+OK " + ss.srv.opts.Stat + "\r\n"
	}
	n, size := 0, 0
	for i, m := range ss.msgs {
		if !ss.deleted[i+1] {
			n, size = n+1, size+len(m.Data)
		}
	}
	return fmt.Sprintf("+OK %d %d\r\n", n, size)
}

func (ss *session) listing(verb string) string {
	if verb == "UIDL" && ss.srv.opts.NoUIDL {
		return "-ERR unknown command\r\n"
	}
	var b strings.Builder
	b.WriteString("+OK\r\n")
	for i, m := range ss.msgs {
		if ss.deleted[i+1] {
			continue
		}
		if verb == "UIDL" {
			fmt.Fprintf(&b, "%d %s\r\n", i+1, m.UIDL)
			continue
		}
		size := m.ListSize
		if size == 0 {
			size = int64(len(m.Data))
		}
		fmt.Fprintf(&b, "%d %d\r\n", i+1, size)
	}
	b.WriteString(".\r\n")
	return b.String()
}

// dotStuff encodes data as the body of a multi-line answer.
func dotStuff(data []byte) string {
	var b strings.Builder
	lineStart := true
	for _, c := range data {
		if lineStart && c == '.' {
			b.WriteByte('.')
		}
		b.WriteByte(c)
		lineStart = c == '\n'
	}
	if !lineStart {
		b.WriteString("\r\n")
	}
	b.WriteString(".\r\n")
	return b.String()
}
