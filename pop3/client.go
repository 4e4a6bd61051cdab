// Package pop3 is mailkeep's POP3 client: RFC 1939 with CAPA (RFC 2449),
// STLS (RFC 2595), SASL AUTH (RFC 5034) and the response codes of RFC 3206.
//
// It exists because a backup in POP3 delete mode makes the archive the only
// copy of a message, so retrieval must be byte-exact, streaming and bounded:
// Retr writes the message exactly as the server sent it (dot-stuffing
// removed, nothing else changed, lines of any length) without holding it in
// memory; every read and write has a deadline; a hostile server cannot make
// the client allocate by what it claims; and deletions are reported
// committed only when the server answered +OK to QUIT.
//
// A Client is not safe for concurrent use, except Close, which may be called
// from any goroutine to abort whatever the client is doing.
package pop3

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Options configure NewClient. A nil *Options or a zero field means the
// default.
type Options struct {
	// Timeout bounds every single read and write; the deadline moves on as
	// long as data flows. Zero means 60 seconds.
	Timeout time.Duration
	// Trace, if set, receives the protocol dialog, one "C: " or "S: " line
	// per command or response line. Message data is summarised, not
	// copied. PASS and AUTH arguments are shown as "***".
	Trace io.Writer
}

const (
	defaultTimeout = 60 * time.Second
	readBufferSize = 32 << 10
)

// Client is a POP3 session.
type Client struct {
	raw     net.Conn // the connection under TLS: closing it unblocks any read or write
	conn    net.Conn // what the protocol runs over: with deadlines, maybe inside TLS
	r       *bufio.Reader
	w       *bufio.Writer
	timeout time.Duration
	trace   io.Writer
	caps    map[string][]string

	mu  sync.Mutex
	err error // once set the session is over and every call returns it
}

// errClosed is the error of calls made after Quit or Close.
var errClosed = errors.New("client closed")

// NewClient starts a session over conn, which is connected to the server
// (and, for implicit TLS, a *tls.Conn whose handshake is done): it reads the
// greeting and the server's capabilities. Cancelling ctx aborts it. On
// error conn is closed.
func NewClient(ctx context.Context, conn net.Conn, opts *Options) (*Client, error) {
	if opts == nil {
		opts = &Options{}
	}
	c := newClient(conn, opts)
	err := c.do(ctx, c.start)
	if err == nil {
		err = c.broken() // ctx ended just as the session started
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("pop3: start session: %w", err)
	}
	return c, nil
}

func newClient(conn net.Conn, opts *Options) *Client {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	raw := conn
	if tc, ok := conn.(*tls.Conn); ok {
		// Closing the TCP connection aborts at once; closing the TLS one
		// may first wait to send close_notify.
		raw = tc.NetConn()
	}
	timed := &timeoutConn{Conn: conn, d: timeout}
	return &Client{
		raw:     raw,
		conn:    timed,
		r:       bufio.NewReaderSize(timed, readBufferSize),
		w:       bufio.NewWriter(timed),
		timeout: timeout,
		trace:   opts.Trace,
		caps:    map[string][]string{},
	}
}

// start reads the greeting and the capabilities.
func (c *Client) start() error {
	if _, err := c.readStatus("greeting"); err != nil {
		return err
	}
	return c.loadCaps()
}

// StartTLS upgrades the session with STLS (RFC 2595) and asks for the
// capabilities again, as the RFC requires; cfg must name the server. A
// server that does not advertise STLS gives ErrNoSTLS, and data it sends
// after its +OK but before the handshake is refused as a protocol
// violation: it could have been injected on the path. There is no
// fallback to plain text: after an error the caller must close the client.
func (c *Client) StartTLS(ctx context.Context, cfg *tls.Config) error {
	if err := c.do(ctx, func() error { return c.startTLS(ctx, cfg) }); err != nil {
		return fmt.Errorf("pop3: stls: %w", err)
	}
	return nil
}

func (c *Client) startTLS(ctx context.Context, cfg *tls.Config) error {
	if _, ok := c.caps["STLS"]; !ok {
		return ErrNoSTLS
	}
	if _, err := c.command("STLS"); err != nil {
		return err
	}
	if c.r.Buffered() > 0 {
		// CVE-2011-0411 and kin.
		return fmt.Errorf("%w: data after the STLS answer, before the TLS handshake", errProtocol)
	}
	if err := c.handshake(ctx, cfg); err != nil {
		return err
	}
	return c.loadCaps()
}

// handshake runs TLS over the current connection.
func (c *Client) handshake(ctx context.Context, cfg *tls.Config) error {
	tc := tls.Client(c.conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("tls handshake: %w", err)
	}
	c.conn = tc
	c.r.Reset(tc)
	c.w.Reset(tc)
	return nil
}

// loadCaps asks for CAPA. A server without CAPA leaves the map empty.
func (c *Client) loadCaps() error {
	caps := map[string][]string{}
	if _, err := c.command("CAPA"); err != nil {
		var se *ServerError
		if errors.As(err, &se) {
			c.caps = caps
			return nil
		}
		return err
	}
	err := c.readMultiLine(maxCapabilities, func(line string) error {
		parseCapa(caps, line)
		return nil
	})
	c.caps = caps
	return err
}

// Capabilities returns what the server listed in answer to CAPA before
// login (after STLS, the list given over TLS): names upper-cased, each with
// its arguments, such as "SASL": {"PLAIN", "LOGIN"}. It is empty if the
// server does not support CAPA. The map is a copy.
func (c *Client) Capabilities() map[string][]string {
	m := make(map[string][]string, len(c.caps))
	for k, v := range c.caps {
		m[k] = append([]string(nil), v...)
	}
	return m
}

// do runs fn on the connection under ctx. Cancelling ctx closes the
// connection, which makes a blocked read or write return. Any error that
// may leave the dialog out of step (I/O, protocol, a failing writer, ctx)
// ends the session; a -ERR answer or a rejected argument does not.
func (c *Client) do(ctx context.Context, fn func() error) error {
	if err := c.broken(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { c.raw.Close() })
	err := fn()
	if !stop() {
		// ctx ended while fn ran: the connection is gone. A result fn had
		// already completed stands; otherwise the cause is ctx.
		c.fail(context.Cause(ctx))
		if err != nil {
			return context.Cause(ctx)
		}
		return nil
	}
	var se *ServerError
	if err != nil && !errors.As(err, &se) && !errors.Is(err, errBadArgument) {
		c.fail(err)
	}
	return err
}

func (c *Client) broken() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// fail ends the session: it records why and closes the connection.
func (c *Client) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = fmt.Errorf("session ended by an earlier error: %w", err)
	}
	c.mu.Unlock()
	c.raw.Close()
}

// Close drops the connection without QUIT. The server then must not apply
// any DELE of this session: every message stays on the server. Calls after
// Close fail. It may be called from any goroutine and more than once.
func (c *Client) Close() error {
	c.mu.Lock()
	first := c.err == nil
	if first {
		c.err = errClosed
	}
	c.mu.Unlock()
	err := c.raw.Close()
	if !first || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
