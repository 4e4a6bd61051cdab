package transport

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	b := newBucket(1000) // 1000 bytes a second, 250 ms ahead at most
	now := time.Unix(0, 0)
	if w := b.take(250, now); w != 0 {
		t.Errorf("within the burst: wait %v", w)
	}
	if w := b.take(500, now); w != 500*time.Millisecond {
		t.Errorf("750 bytes at once: wait %v, want 500ms", w)
	}
	if w := b.take(100, now.Add(10*time.Second)); w != 0 {
		t.Errorf("after a pause: wait %v", w)
	}
}

// serveBytes accepts connections and sends n bytes on each.
func serveBytes(t *testing.T, n int) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Write(make([]byte, n))
			}()
		}
	}()
	return ln.Addr().String()
}

// TestLimitsBandwidth: two connections of one account share its rate.
func TestLimitsBandwidth(t *testing.T) {
	addr := serveBytes(t, 1<<20)
	l := NewLimits(0, 4<<20)
	start := time.Now()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			c, err := l.open(t.Context(), func() (net.Conn, error) { return net.Dial("tcp", addr) })
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			if n, err := io.Copy(io.Discard, c); n != 1<<20 || err != nil {
				t.Errorf("read %d bytes: %v", n, err)
			}
		})
	}
	wg.Wait()
	// 2 MiB at 4 MiB/s: half a second, less the 250 ms the bucket lets run ahead.
	if took := time.Since(start); took < 200*time.Millisecond || took > 5*time.Second {
		t.Errorf("2 MiB at 4 MiB/s took %v", took)
	}
}

// TestLimitsConnections: a second connection waits for the first to
// close, and gives up with its context.
func TestLimitsConnections(t *testing.T) {
	addr := serveBytes(t, 1)
	l := NewLimits(1, 0)
	dial := func() (net.Conn, error) { return net.Dial("tcp", addr) }
	first, err := l.open(t.Context(), dial)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := l.open(ctx, dial); err == nil {
		t.Fatal("a second connection opened while the cap was reached")
	}
	opened := make(chan error, 1)
	go func() {
		c, err := l.open(t.Context(), dial)
		if err == nil {
			c.Close()
		}
		opened <- err
	}()
	time.Sleep(50 * time.Millisecond)
	select {
	case <-opened:
		t.Fatal("opened before the first closed")
	default:
	}
	first.Close()
	first.Close() // a second Close frees no second slot
	if err := <-opened; err != nil {
		t.Fatal(err)
	}
	if len(l.slots) != 0 {
		t.Errorf("%d slots taken after every connection closed", len(l.slots))
	}
}

func TestAccountLimitsShared(t *testing.T) {
	a, b := AccountLimits("limits-test", 2, 100), AccountLimits("limits-test", 2, 100)
	if a != b {
		t.Error("two endpoints of one account do not share their limits")
	}
	if c := AccountLimits("limits-test", 3, 100); c == a {
		t.Error("new caps kept the old limits")
	}
}
