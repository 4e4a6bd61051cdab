package pop3

import (
	"errors"
	"strings"
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

// deferred reports whether the response code (RFC 2449, RFC 3206) says
// that a refused login is no verdict on the credentials: the maildrop is
// busy, logins come too often, or the server is in trouble.
func (e *ServerError) deferred() bool {
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
