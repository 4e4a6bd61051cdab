package transport

import (
	"context"
	"net"
	"sync"
	"time"
)

// Limits caps what the connections of one account take of its server, all
// of them together: at most Connections open at once, and at most
// Bandwidth bytes a second read from the server (what crosses the
// network: TLS included). The zero value, and a nil *Limits, cap nothing.
// Every Endpoint of an account made by EndpointFor shares the account's
// Limits, so a backup's connections and anything else in the process that
// dials the account (a restore into it, "mailkeep folders", a dry run)
// count against the same caps.
type Limits struct {
	slots  chan struct{} // one per open connection; nil: no cap
	bucket *bucket       // nil: no cap
	conns  int
	rate   int64
}

// NewLimits returns caps of maxConns connections (0: none) and bandwidth
// bytes a second (0: none).
func NewLimits(maxConns int, bandwidth int64) *Limits {
	l := &Limits{conns: maxConns, rate: bandwidth}
	if maxConns > 0 {
		l.slots = make(chan struct{}, maxConns)
	}
	if bandwidth > 0 {
		l.bucket = newBucket(bandwidth)
	}
	return l
}

var (
	limitsMu sync.Mutex
	limits   = map[string]*Limits{}
)

// AccountLimits returns the Limits the process keeps for the account
// called name, made on first use. When the caps given differ from the
// ones kept (a configuration reload), new Limits replace them for the
// connections opened from then on.
func AccountLimits(name string, maxConns int, bandwidth int64) *Limits {
	limitsMu.Lock()
	defer limitsMu.Unlock()
	l, ok := limits[name]
	if !ok || l.conns != maxConns || l.rate != bandwidth {
		l = NewLimits(maxConns, bandwidth)
		limits[name] = l
	}
	return l
}

// open takes a connection slot, waiting for one as long as ctx allows,
// and returns conn wrapped so that its reads keep to the bandwidth and
// closing it frees the slot. dial opens the connection once a slot is
// taken.
func (l *Limits) open(ctx context.Context, dial func() (net.Conn, error)) (net.Conn, error) {
	if l == nil || l.slots == nil && l.bucket == nil {
		return dial()
	}
	if l.slots != nil {
		select {
		case l.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	conn, err := dial()
	if err != nil {
		l.release()
		return nil, err
	}
	return &limitedConn{Conn: conn, l: l, closed: make(chan struct{})}, nil
}

func (l *Limits) release() {
	if l.slots != nil {
		<-l.slots
	}
}

// limitedConn is a connection under an account's Limits.
type limitedConn struct {
	net.Conn
	l      *Limits
	once   sync.Once
	closed chan struct{}
}

// Read reads at most what the bandwidth allows in about a second, then
// waits until the bytes read are within the account's rate.
func (c *limitedConn) Read(p []byte) (int, error) {
	b := c.l.bucket
	if b == nil {
		return c.Conn.Read(p)
	}
	if len(p) > b.chunk {
		p = p[:b.chunk]
	}
	n, err := c.Conn.Read(p)
	if wait := b.take(n, time.Now()); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-c.closed:
			t.Stop()
		}
	}
	return n, err
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		close(c.closed)
		c.l.release()
	})
	return err
}

// bucket is a token bucket kept as a theoretical arrival time (GCRA):
// reads may run up to burst ahead of the rate, then wait.
type bucket struct {
	mu    sync.Mutex
	rate  float64 // bytes a second
	burst time.Duration
	chunk int // the most one read takes
	tat   time.Time
}

func newBucket(rate int64) *bucket {
	return &bucket{rate: float64(rate), burst: 250 * time.Millisecond, chunk: int(min(max(rate, 512), 256<<10))}
}

// take counts n bytes read at now and returns how long to wait before
// reading on.
func (b *bucket) take(n int, now time.Time) time.Duration {
	if n <= 0 {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tat.Before(now) {
		b.tat = now
	}
	b.tat = b.tat.Add(time.Duration(float64(n) / b.rate * float64(time.Second)))
	return max(b.tat.Sub(now)-b.burst, 0)
}
