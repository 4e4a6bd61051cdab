package transport

import (
	"net"
	"sync"
	"time"
)

// DefaultIdleTimeout is how long a connection may stay silent while a
// response is awaited before it is given up as stalled.
const DefaultIdleTimeout = 2 * time.Minute

// idleConn replaces the IMAP client's fixed deadlines (30 s per response,
// 5 min per literal including the caller's own processing time) with an
// idle timeout: while the client awaits data, every read must make
// progress within idle. A slow link streaming a large message is fine; a
// server that stops talking is not. When the client awaits nothing (it
// clears its deadline), no deadline applies.
type idleConn struct {
	net.Conn
	idle time.Duration

	mu           sync.Mutex
	readWaiting  bool
	writeWaiting bool
}

func newIdleConn(c net.Conn, idle time.Duration) net.Conn {
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	return &idleConn{Conn: c, idle: idle}
}

func (c *idleConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.readWaiting = !t.IsZero()
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(c.deadline(!t.IsZero()))
}

func (c *idleConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.writeWaiting = !t.IsZero()
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(c.deadline(!t.IsZero()))
}

func (c *idleConn) SetDeadline(t time.Time) error {
	return errorsJoin(c.SetReadDeadline(t), c.SetWriteDeadline(t))
}

func (c *idleConn) deadline(waiting bool) time.Time {
	if !waiting {
		return time.Time{}
	}
	return time.Now().Add(c.idle)
}

func (c *idleConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	waiting := c.readWaiting
	c.mu.Unlock()
	if waiting {
		c.Conn.SetReadDeadline(c.deadline(true))
	}
	return c.Conn.Read(p)
}

func (c *idleConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	waiting := c.writeWaiting
	c.mu.Unlock()
	if waiting {
		c.Conn.SetWriteDeadline(c.deadline(true))
	}
	return c.Conn.Write(p)
}

func errorsJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
