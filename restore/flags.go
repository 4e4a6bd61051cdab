package restore

import (
	"strings"

	"github.com/emersion/go-imap/v2"
)

// systemFlags are the flags APPEND may set: RFC 3501 system flags except
// \Recent, which only the server sets.
var systemFlags = map[string]imap.Flag{
	`\seen`: imap.FlagSeen, `\answered`: imap.FlagAnswered, `\flagged`: imap.FlagFlagged,
	`\deleted`: imap.FlagDeleted, `\draft`: imap.FlagDraft,
}

// appendFlags returns the flags to APPEND a message with, and the ones it
// cannot send: \Recent, unknown system flags, and keywords that are not
// IMAP atoms. A server answers those with BAD, and Dovecot then drops the
// connection, so they are left out (and logged) rather than sent.
func appendFlags(flags []string) (send []imap.Flag, dropped []string) {
	for _, f := range flags {
		switch {
		case strings.HasPrefix(f, `\`):
			if sf, ok := systemFlags[strings.ToLower(f)]; ok {
				send = append(send, sf)
			} else if !strings.EqualFold(f, `\Recent`) {
				dropped = append(dropped, f)
			}
		case isAtom(f):
			send = append(send, imap.Flag(f))
		default:
			dropped = append(dropped, f)
		}
	}
	return send, dropped
}

// isAtom reports whether s is a non-empty IMAP atom that may be a keyword
// (RFC 3501 atom-char, without the list and resp-special characters).
func isAtom(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return false
		}
	}
	return true
}
