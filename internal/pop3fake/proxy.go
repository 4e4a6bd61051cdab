package pop3fake

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
)

// ProxyOptions say how a Proxy interferes with the connections it relays.
type ProxyOptions struct {
	// CutAfter, if positive, closes a connection once the server has sent
	// this many bytes to the client: a connection cut in mid-answer.
	CutAfter int64
	// CutSessions limits CutAfter to the first connections; 0 means all.
	CutSessions int
	// Hold, if set, sees each command line the client sends (without CRLF).
	// When it returns true, that line and all that follow are not passed on:
	// the server never sees them, and the connection stays open until the
	// client goes away.
	Hold func(line string) bool
}

// Proxy relays plain-text POP3 connections to a server.
type Proxy struct {
	Addr   string
	target string
	opts   ProxyOptions
	ln     net.Listener
	wg     sync.WaitGroup

	mu       sync.Mutex
	sessions int
	conns    map[net.Conn]bool
}

// StartProxy relays connections to target until the test ends.
func StartProxy(t testing.TB, target string, opts ProxyOptions) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, opts: opts, ln: ln, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *Proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.sessions++
		cut := p.opts.CutAfter > 0 && (p.opts.CutSessions == 0 || p.sessions <= p.opts.CutSessions)
		p.mu.Unlock()
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.relay(c, cut)
		}()
	}
}

func (p *Proxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
}

// relay runs one connection; cut says whether CutAfter applies to it.
func (p *Proxy) relay(client net.Conn, cut bool) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	p.track(client, true)
	p.track(server, true)
	defer func() {
		client.Close()
		server.Close()
		p.track(client, false)
		p.track(server, false)
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		var src io.Reader = server
		if cut {
			src = io.LimitReader(server, p.opts.CutAfter)
		}
		io.Copy(client, src)
		client.Close() // the cut, or the server hung up
	}()
	p.commands(client, server)
	<-done
}

// commands passes the client's command lines on until Hold holds one, then
// waits for the client to go away.
func (p *Proxy) commands(client, server net.Conn) {
	r := bufio.NewReader(client)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			server.Close()
			return
		}
		if p.opts.Hold != nil && p.opts.Hold(strings.TrimRight(line, "\r\n")) {
			io.Copy(io.Discard, r)
			server.Close()
			return
		}
		if _, err := io.WriteString(server, line); err != nil {
			return
		}
	}
}
