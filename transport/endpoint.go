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
	// awaited; 0 = DefaultIdleTimeout.
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
		return nil, Permanent(fmt.Errorf("read CA file: %w", err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, Permanent(fmt.Errorf("CA file %s holds no PEM certificate", e.CAFile))
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// dial opens the TCP connection (with implicit TLS when asked).
func (e Endpoint) dial(ctx context.Context) (net.Conn, error) {
	timeout := e.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", e.Address())
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", e.Address(), err)
	}
	conn = newIdleConn(conn, e.IdleTimeout)
	if e.TLS != config.TLSImplicit && e.TLS != "" {
		return conn, nil
	}
	cfg, err := e.TLSConfig()
	if err != nil {
		conn.Close()
		return nil, err
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, classifyTLS(fmt.Errorf("TLS handshake with %s: %w", e.Address(), err))
	}
	return tc, nil
}
