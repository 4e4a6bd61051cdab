package pop3

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"time"
)

// tlsMode says how a test connects. Production dialing, with its TLS modes,
// is package transport's DialPOP3.
type tlsMode int

const (
	plainText   tlsMode = iota
	implicitTLS         // TLS before the greeting
	stls                // STLS after the greeting
)

// dial connects to addr as mode says and starts a session. cfg without a
// ServerName gets the host of addr.
func dial(ctx context.Context, addr string, mode tlsMode, cfg *tls.Config, opts *Options) (*Client, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg = cfg.Clone()
		cfg.ServerName = host
	}
	conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if mode == implicitTLS {
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, err
		}
		conn = tc
	}
	c, err := NewClient(ctx, conn, opts)
	if err != nil || mode != stls {
		return c, err
	}
	if err := c.StartTLS(ctx, cfg); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// auth logs in as transport's DialPOP3 does with auth "": SASL PLAIN when
// the server offers it, else USER and PASS.
func auth(ctx context.Context, c *Client, user, pass string) error {
	for _, m := range c.caps["SASL"] {
		if strings.EqualFold(m, "PLAIN") {
			return c.AuthSASL(ctx, "PLAIN", []byte("\x00"+user+"\x00"+pass))
		}
	}
	return c.Login(ctx, user, pass)
}
