package pop3

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
)

var (
	// ErrAuth reports that the server refused the credentials. It is
	// permanent: retrying with the same password will not help.
	ErrAuth = errors.New("authentication failed")
	// ErrNoUIDL reports that the server answered -ERR to UIDL, so messages
	// have no identity that survives across sessions.
	ErrNoUIDL = errors.New("server does not support UIDL")
	// ErrNoSTLS reports that StartTLS was called but the server does not
	// advertise STLS. The client never falls back to plain text.
	ErrNoSTLS = errors.New("server does not offer STLS")
)

// errBadArgument reports a command argument that cannot be sent (it holds
// CR, LF or NUL, or a number out of range). Nothing was sent, so the
// session is still usable.
var errBadArgument = errors.New("invalid command argument")

// ServerError is a -ERR answer. The session stays usable after one.
type ServerError struct {
	Cmd  string // the command answered, such as "RETR"; "greeting" when the server refused the connection
	Code string // RFC 2449 response code without brackets, such as "IN-USE" or "SYS/TEMP"; often empty
	Msg  string // the text after -ERR, control characters replaced by '?'
}

func (e *ServerError) Error() string {
	if e.Msg == "" {
		return "server answered -ERR"
	}
	return "server answered -ERR " + e.Msg
}

// temporary reports whether the response code (RFC 2449, RFC 3206) says
// that the same command may succeed later.
func (e *ServerError) temporary() bool {
	switch strings.ToUpper(e.Code) {
	case "IN-USE", "LOGIN-DELAY", "SYS/TEMP":
		return true
	}
	return false
}

// newServerError builds the error for a -ERR answer with text.
func newServerError(cmd, text string) *ServerError {
	text = sanitize(text)
	e := &ServerError{Cmd: cmd, Msg: text}
	if strings.HasPrefix(text, "[") {
		if end := strings.IndexByte(text, ']'); end > 0 {
			e.Code = text[1:end]
		}
	}
	return e
}

// sanitize replaces control characters in server text, which ends up in
// logs and terminals.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// Temporary reports whether err is worth retrying later: network timeouts,
// resets and closed connections, a server that went away mid-response, and
// -ERR answers whose response code says so (IN-USE, LOGIN-DELAY, SYS/TEMP).
// Authentication failures, other -ERR answers, certificate problems,
// protocol violations and cancellation are permanent.
func Temporary(err error) bool {
	switch {
	case err == nil, errors.Is(err, ErrAuth), errors.Is(err, ErrNoSTLS),
		errors.Is(err, context.Canceled), isCertError(err):
		return false
	}
	var se *ServerError
	if errors.As(err, &se) {
		return se.temporary()
	}
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETDOWN):
		return true
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.IsTemporary || dnsErr.IsTimeout
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isCertError(err error) bool {
	var (
		verr   *tls.CertificateVerificationError
		hostE  x509.HostnameError
		authE  x509.UnknownAuthorityError
		invalE x509.CertificateInvalidError
	)
	return errors.As(err, &verr) || errors.As(err, &hostE) ||
		errors.As(err, &authE) || errors.As(err, &invalE)
}
