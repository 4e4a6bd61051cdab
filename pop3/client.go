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

// TLSMode says how a connection is protected.
type TLSMode int

const (
	// TLSImplicit starts TLS before the greeting (POP3S, usually port 995).
	// It is the zero value.
	TLSImplicit TLSMode = iota
	// TLSStartTLS connects in plain text and upgrades with STLS before any
	// credentials are sent. A server that does not advertise STLS is
	// refused with ErrNoSTLS; there is no fallback to plain text.
	TLSStartTLS
	// TLSNone never encrypts: for loopback servers and tests.
	TLSNone
)

func (m TLSMode) String() string {
	switch m {
	case TLSImplicit:
		return "implicit"
	case TLSStartTLS:
		return "starttls"
	case TLSNone:
		return "none"
	}
	return fmt.Sprintf("TLSMode(%d)", int(m))
}

// Options configure Dial. A nil *Options or a zero field means the default.
type Options struct {
	TLS TLSMode
	// TLSConfig is used for implicit TLS and STLS. Nil means the default
	// verification against the system roots with ServerName taken from the
	// host of addr; a config without ServerName gets that host too.
	TLSConfig *tls.Config
	// Timeout bounds every single read and write; the deadline moves on as
	// long as data flows. Zero means 60 seconds.
	Timeout time.Duration
	// Dialer makes the TCP connection. Nil means a 30-second connect
	// timeout.
	Dialer *net.Dialer
	// Trace, if set, receives the protocol dialog, one "C: " or "S: " line
	// per command or response line. Message data is summarised, not
	// copied. PASS and AUTH arguments are shown as "***".
	Trace io.Writer
}

const (
	defaultTimeout     = 60 * time.Second
	defaultDialTimeout = 30 * time.Second
	readBufferSize     = 32 << 10
)

// Client is a POP3 session.
type Client struct {
	raw     net.Conn // the TCP connection: closing it unblocks any read or write
	conn    net.Conn // what the protocol runs over: raw with deadlines, maybe inside TLS
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

// Dial connects to addr ("host:port"), sets up TLS as opts.TLS says, reads
// the greeting and the server's capabilities. Cancelling ctx aborts it.
func Dial(ctx context.Context, addr string, opts *Options) (*Client, error) {
	if opts == nil {
		opts = &Options{}
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("pop3: dial %s: %w", addr, err)
	}
	if opts.TLS < TLSImplicit || opts.TLS > TLSNone {
		return nil, fmt.Errorf("pop3: dial %s: unknown %v", addr, opts.TLS)
	}
	dialer := opts.Dialer
	if dialer == nil {
		dialer = &net.Dialer{Timeout: defaultDialTimeout}
	}
	raw, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pop3: dial %s: %w", addr, err)
	}
	c := newClient(raw, opts)
	err = c.do(ctx, func() error { return c.start(ctx, host, opts) })
	if err == nil {
		err = c.broken() // ctx ended just as the session started
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("pop3: dial %s: %w", addr, err)
	}
	return c, nil
}

func newClient(raw net.Conn, opts *Options) *Client {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	conn := &timeoutConn{Conn: raw, d: timeout}
	return &Client{
		raw:     raw,
		conn:    conn,
		r:       bufio.NewReaderSize(conn, readBufferSize),
		w:       bufio.NewWriter(conn),
		timeout: timeout,
		trace:   opts.Trace,
		caps:    map[string][]string{},
	}
}

// start runs the session up to the authorization state.
func (c *Client) start(ctx context.Context, host string, opts *Options) error {
	cfg := tlsConfig(opts.TLSConfig, host)
	if opts.TLS == TLSImplicit {
		if err := c.handshake(ctx, cfg); err != nil {
			return err
		}
	}
	if _, err := c.readStatus("greeting"); err != nil {
		return err
	}
	if err := c.loadCaps(); err != nil {
		return err
	}
	if opts.TLS == TLSStartTLS {
		return c.startTLS(ctx, cfg)
	}
	return nil
}

// startTLS upgrades the connection with STLS and asks for the capabilities
// again, as RFC 2595 requires.
func (c *Client) startTLS(ctx context.Context, cfg *tls.Config) error {
	if _, ok := c.caps["STLS"]; !ok {
		return ErrNoSTLS
	}
	if _, err := c.command("STLS"); err != nil {
		return err
	}
	if c.r.Buffered() > 0 {
		// Anything sent before the handshake could have been injected by
		// an attacker on the path (CVE-2011-0411 and kin).
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

func tlsConfig(cfg *tls.Config, host string) *tls.Config {
	if cfg == nil {
		return &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	if cfg.ServerName == "" {
		cfg = cfg.Clone()
		cfg.ServerName = host
	}
	return cfg
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
