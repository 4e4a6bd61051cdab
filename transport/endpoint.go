package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/mailkeep/mailkeep/config"
)

// Endpoint says where and how to connect and log in.
type Endpoint struct {
	Host       string
	Port       int
	TLS        string // config.TLSImplicit ("" too), config.TLSStartTLS or config.TLSNone
	CAFile     string // PEM bundle of a private CA; empty = system roots
	ServerName string // overrides Host for certificate verification
	Username   string
	Auth       string                                    // "" (auto) or one of config's Auth values
	Secret     func(ctx context.Context) (string, error) // password or OAuth token
	Timeout    time.Duration                             // connect timeout; 0 = 30s
	// IdleTimeout: how long a server may stay silent while an answer is
	// awaited; 0 = DefaultIdleTimeout for IMAP, pop3's default (60 s) for
	// POP3.
	IdleTimeout time.Duration
}

// Address is host:port.
func (e Endpoint) Address() string { return net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) }

// TLSConfig returns the verified TLS configuration of the endpoint.
func (e Endpoint) TLSConfig() (*tls.Config, error) {
	cfg := &tls.Config{ServerName: e.Host, MinVersion: tls.VersionTLS12}
	if e.ServerName != "" {
		cfg.ServerName = e.ServerName
	}
	if e.CAFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(e.CAFile)
	if err != nil {
		return nil, MarkPermanent(fmt.Errorf("read CA file: %w", err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, MarkPermanent(fmt.Errorf("CA file %s holds no PEM certificate", e.CAFile))
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// EndpointFor returns where and how to reach an account's server.
func EndpointFor(a *config.Account) Endpoint {
	return Endpoint{Host: a.Host, Port: a.Port, TLS: a.TLS, CAFile: a.CAFile,
		ServerName: a.TLSServerName, Username: a.Username, Auth: a.Auth, Secret: a.Secret}
}

// connect opens the TCP connection.
func (e Endpoint) connect(ctx context.Context) (net.Conn, error) {
	switch e.TLS {
	case "", config.TLSImplicit, config.TLSStartTLS, config.TLSNone:
	default:
		return nil, MarkPermanent(fmt.Errorf("unknown tls mode %q", e.TLS))
	}
	timeout := e.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", e.Address())
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", e.Address(), err)
	}
	return conn, nil
}

// implicitTLS reports whether TLS starts before the greeting.
func (e Endpoint) implicitTLS() bool { return e.TLS == "" || e.TLS == config.TLSImplicit }

// handshake runs TLS over conn; on error conn is closed.
func (e Endpoint) handshake(ctx context.Context, conn net.Conn) (net.Conn, error) {
	cfg, err := e.TLSConfig()
	if err != nil {
		conn.Close()
		return nil, err
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("TLS handshake with %s: %w", e.Address(), err)
	}
	return tc, nil
}

// dialIMAP opens the connection for IMAP: idle deadlines, then implicit
// TLS when asked.
func (e Endpoint) dialIMAP(ctx context.Context) (net.Conn, error) {
	conn, err := e.connect(ctx)
	if err != nil {
		return nil, err
	}
	conn = newIdleConn(conn, e.IdleTimeout)
	if !e.implicitTLS() {
		return conn, nil
	}
	return e.handshake(ctx, conn)
}
