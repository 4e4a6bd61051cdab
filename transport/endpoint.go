package transport

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
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
	// Timeout bounds each step of opening a session on its own: the
	// connect, the TLS handshake, the greeting, STARTTLS or STLS; 0 =
	// DefaultTimeout.
	Timeout time.Duration
	// LoginTimeout bounds the login (capabilities, then authentication);
	// 0 = DefaultLoginTimeout.
	LoginTimeout time.Duration
	// IdleTimeout: how long a server may stay silent while an answer is
	// awaited, once the session is open (a command's response, each read
	// of a literal, however large); 0 = DefaultIdleTimeout for IMAP,
	// pop3's default (60 s) for POP3.
	IdleTimeout time.Duration
	// Limits caps the connections and the bandwidth of the account, with
	// every other Endpoint that shares them; nil caps nothing.
	Limits *Limits
}

func (e Endpoint) timeout() time.Duration { return cmp.Or(max(e.Timeout, 0), DefaultTimeout) }
func (e Endpoint) loginTimeout() time.Duration {
	return cmp.Or(max(e.LoginTimeout, 0), DefaultLoginTimeout)
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
		ServerName: a.TLSServerName, Username: a.Username, Auth: a.Auth, Secret: a.Secret,
		Limits: AccountLimits(a.Name, a.MaxConnections, int64(a.Bandwidth))}
}

// connect opens the TCP connection, once e.Limits has a connection slot
// free.
func (e Endpoint) connect(ctx context.Context) (net.Conn, error) {
	switch e.TLS {
	case "", config.TLSImplicit, config.TLSStartTLS, config.TLSNone:
	default:
		return nil, MarkPermanent(fmt.Errorf("unknown tls mode %q", e.TLS))
	}
	d := &net.Dialer{Timeout: e.timeout(), KeepAlive: 30 * time.Second}
	conn, err := e.Limits.open(ctx, func() (net.Conn, error) { return d.DialContext(ctx, "tcp", e.Address()) })
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", e.Address(), err)
	}
	return conn, nil
}

// implicitTLS reports whether TLS starts before the greeting.
func (e Endpoint) implicitTLS() bool { return e.TLS == "" || e.TLS == config.TLSImplicit }

// handshake runs implicit TLS over conn, within e.timeout(); on error conn
// is closed. port is the protocol's implicit-TLS port, for the hint.
func (e Endpoint) handshake(ctx context.Context, conn net.Conn, port int) (net.Conn, error) {
	cfg, err := e.TLSConfig()
	if err != nil {
		conn.Close()
		return nil, err
	}
	tc := tls.Client(conn, cfg)
	err = step(ctx, "TLS handshake with "+e.Address(), e.timeout(), func() { conn.Close() }, tc.HandshakeContext)
	if err != nil {
		conn.Close()
		return nil, e.tlsHint(err, port)
	}
	return tc, nil
}

// openIMAP connects and secures the connection as e.TLS says; the session
// then runs over the idleConn it returns.
func (e Endpoint) openIMAP(ctx context.Context, trace io.Writer) (*idleConn, error) {
	raw, err := e.connect(ctx)
	if err != nil {
		return nil, err
	}
	conn := raw
	switch {
	case e.implicitTLS():
		conn, err = e.handshake(ctx, raw, 993)
	case e.TLS == config.TLSStartTLS:
		conn, err = e.imapStartTLS(ctx, raw, trace)
	}
	if err != nil {
		return nil, err
	}
	return newIdleConn(conn, raw, e.Address(), e.IdleTimeout), nil
}
