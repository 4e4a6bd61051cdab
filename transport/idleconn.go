package transport

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// DefaultIdleTimeout is how long an IMAP server may stay silent while an
// answer is awaited before the connection is given up as stalled.
const DefaultIdleTimeout = 2 * time.Minute

// idleConn replaces the IMAP client's fixed deadlines (30 s per response,
// 5 min per literal including the caller's own processing time) with an
// idle bound: while an answer is awaited, every read must bring data
// within idle. A slow link streaming a large message is fine; a server
// that stops talking is not. It lies above TLS, where it reads the
// commands and their completions (tagScanner), because go-imap's reader
// waits for the first byte of each response with no deadline at all: an
// answer is awaited while a command is not complete, or while the client
// has set a read deadline (the rest of a response). With nothing awaited,
// no deadline applies. The bound starts once the session is open (start):
// before, each step of opening it has its own.
//
// Once a read or write has timed out, every later one fails at once with
// the same *StallError: go-imap's decoder goes on reading after its first
// error, and each read would otherwise wait for the bound again.
type idleConn struct {
	net.Conn
	raw  net.Conn // the TCP connection under TLS: closing it aborts at once
	addr string
	idle time.Duration
	in   tagScanner // the server's side; only the reading goroutine uses it
	out  tagScanner // the client's side; writes are serialized by go-imap

	mu           sync.Mutex
	readWaiting  bool // the client set a read deadline
	writeWaiting bool // the client set a write deadline
	pending      int  // commands sent and not yet completed
	open         bool // logged in: the idle bound applies
	stall        *StallError
	gone         bool // closed, or a read or write failed
}

// newIdleConn wraps conn, which may be a TLS connection over raw.
func newIdleConn(conn, raw net.Conn, addr string, idle time.Duration) *idleConn {
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	return &idleConn{Conn: conn, raw: raw, addr: addr, idle: idle,
		in: tagScanner{tagged: serverTag}, out: tagScanner{tagged: clientTag}}
}

func (c *idleConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readWaiting = !t.IsZero()
	return c.Conn.SetReadDeadline(c.readDeadline())
}

func (c *idleConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writeWaiting = !t.IsZero()
	return c.Conn.SetWriteDeadline(c.deadline(c.writeWaiting))
}

// start applies the idle bound from now on: the session is open.
func (c *idleConn) start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.open = true
	c.Conn.SetReadDeadline(c.readDeadline())
	c.Conn.SetWriteDeadline(c.deadline(c.writeWaiting))
}

func (c *idleConn) SetDeadline(t time.Time) error {
	return errors.Join(c.SetReadDeadline(t), c.SetWriteDeadline(t))
}

// readDeadline is the deadline for a read starting now; c.mu is held.
func (c *idleConn) readDeadline() time.Time {
	return c.deadline(c.readWaiting || c.pending > 0)
}

func (c *idleConn) deadline(waiting bool) time.Time {
	if !waiting || !c.open {
		return time.Time{}
	}
	return time.Now().Add(c.idle)
}

func (c *idleConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if c.stall != nil {
		c.mu.Unlock()
		return 0, c.stall
	}
	c.Conn.SetReadDeadline(c.readDeadline())
	c.mu.Unlock()
	n, err := c.Conn.Read(p)
	done := c.in.scan(p[:n])
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = max(c.pending-done, 0)
	return n, c.failed(err)
}

func (c *idleConn) Write(p []byte) (int, error) {
	// Counted before they go: the server may answer before Write returns.
	sent := c.out.scan(p)
	c.mu.Lock()
	if c.stall != nil {
		c.mu.Unlock()
		return 0, c.stall
	}
	if sent > 0 {
		c.pending += sent
		// A read that is already waiting now awaits an answer.
		c.Conn.SetReadDeadline(c.readDeadline())
	}
	c.Conn.SetWriteDeadline(c.deadline(c.writeWaiting))
	c.mu.Unlock()
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	return n, c.failed(err)
}

// failed records a failed read or write, and turns a timeout into the
// connection's stall; c.mu is held.
func (c *idleConn) failed(err error) error {
	c.gone = c.gone || err != nil
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	if c.stall == nil {
		c.stall = &StallError{Op: c.addr, Bound: c.idle, Idle: true}
	}
	return c.stall
}

// stalled returns the stall that ended the connection, or nil.
func (c *idleConn) stalled() *StallError {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stall
}

// ended reports whether the connection is closed or broken. go-imap
// closes it, or sees it fail, before it fails the commands in flight.
func (c *idleConn) ended() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gone
}

// Close closes the connection; after a stall, without the TLS goodbye,
// which a silent server would not read.
func (c *idleConn) Close() error {
	c.mu.Lock()
	c.gone = true
	stalled := c.stall != nil
	c.mu.Unlock()
	if stalled {
		return c.raw.Close()
	}
	return c.Conn.Close()
}

// abort closes the TCP connection at once, from any goroutine.
func (c *idleConn) abort() {
	c.mu.Lock()
	c.gone = true
	c.mu.Unlock()
	c.raw.Close()
}
