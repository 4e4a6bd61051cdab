package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// IMAP STARTTLS is done here rather than by go-imap's NewStartTLS, for two
// reasons: its greeting, STARTTLS exchange and handshake are then steps
// with bounds of their own, and the session above TLS runs over an
// idleConn that sees the plain text (go-imap would put TLS above it).
// go-imap is then handed the TLS connection with a greeting of mailkeep's
// own, without capabilities: those of the plain-text greeting must not be
// trusted (RFC 9051, section 6.2.1), so the client asks for them again.

// tlsGreeting is the greeting go-imap reads after STARTTLS.
const tlsGreeting = "* OK TLS started\r\n"

// maxPlainLine bounds a line before STARTTLS.
const maxPlainLine = 8 << 10

// imapStartTLS reads the greeting on conn, runs STARTTLS and the TLS
// handshake, each within e.timeout(), and returns the TLS connection. On
// error conn is closed.
func (e Endpoint) imapStartTLS(ctx context.Context, conn net.Conn, trace io.Writer) (net.Conn, error) {
	cfg, err := e.TLSConfig()
	if err != nil {
		conn.Close()
		return nil, err
	}
	p := &plainIMAP{conn: conn, r: bufio.NewReaderSize(conn, maxPlainLine), trace: trace}
	abort := func() { conn.Close() }
	err = step(ctx, "greeting from "+e.Address(), e.timeout(), abort, func(context.Context) error { return p.greeting() })
	if err != nil {
		conn.Close()
		return nil, e.greetingHint(err)
	}
	err = step(ctx, "STARTTLS with "+e.Address(), e.timeout(), abort, func(context.Context) error { return p.startTLS() })
	if err != nil {
		conn.Close()
		return nil, err
	}
	tc := tls.Client(conn, cfg)
	err = step(ctx, "TLS handshake with "+e.Address(), e.timeout(), abort, tc.HandshakeContext)
	if err != nil {
		conn.Close()
		return nil, e.tlsHint(err, 993)
	}
	return greeted{tc, io.MultiReader(strings.NewReader(tlsGreeting), tc)}, nil
}

// plainIMAP is the dialog before STARTTLS.
type plainIMAP struct {
	conn  net.Conn
	r     *bufio.Reader
	trace io.Writer
}

// greeting reads the greeting: OK; a server that refuses the connection
// (BYE) or claims the session is already authenticated (PREAUTH, which
// would skip STARTTLS) is an error.
func (p *plainIMAP) greeting() error {
	line, err := p.line()
	if err != nil {
		return err
	}
	status, text, _ := strings.Cut(strings.TrimPrefix(line, "* "), " ")
	switch {
	case !strings.HasPrefix(line, "* "):
		return fmt.Errorf("%w: %q", errNotIMAP, line)
	case strings.EqualFold(status, "OK"):
		return nil
	case strings.EqualFold(status, "BYE"):
		return &imap.Error{Type: imap.StatusResponseTypeBye, Text: text}
	case strings.EqualFold(status, "PREAUTH"):
		return MarkPermanent(errors.New("the server sent PREAUTH before STARTTLS"))
	}
	return fmt.Errorf("%w: %q", errNotIMAP, line)
}

var errNotIMAP = errors.New("not an IMAP greeting")

// startTLS sends STARTTLS and reads up to its completion. Data that
// follows the completion before the handshake is refused: it could have
// been injected on the path (CVE-2011-0411 and kin).
func (p *plainIMAP) startTLS() error {
	const cmd = "M1 STARTTLS\r\n"
	if p.trace != nil {
		io.WriteString(p.trace, cmd)
	}
	if _, err := io.WriteString(p.conn, cmd); err != nil {
		return err
	}
	for {
		line, err := p.line()
		if err != nil {
			return err
		}
		if strings.HasPrefix(line, "* ") {
			continue
		}
		status, text, _ := strings.Cut(strings.TrimPrefix(line, "M1 "), " ")
		switch {
		case !strings.HasPrefix(line, "M1 "):
			return fmt.Errorf("unexpected answer to STARTTLS: %q", line)
		case !strings.EqualFold(status, "OK"):
			return MarkPermanent(fmt.Errorf("the server refused STARTTLS: %s %s", status, text))
		case p.r.Buffered() > 0:
			return MarkPermanent(errors.New("data after the STARTTLS answer, before the TLS handshake"))
		}
		return nil
	}
}

// line reads one line without its line end.
func (p *plainIMAP) line() (string, error) {
	b, err := p.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", fmt.Errorf("%w: a line longer than %d bytes", errNotIMAP, maxPlainLine)
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return "", err
	}
	if p.trace != nil {
		p.trace.Write(b)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// greeted is a connection whose reads begin with a greeting of its own.
type greeted struct {
	net.Conn
	r io.Reader
}

func (g greeted) Read(b []byte) (int, error) { return g.r.Read(b) }
