package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailkeep/mailkeep/pop3"
)

// ErrAuth marks a rejected login: permanent, never retried. A refused
// POP3 login wraps both it and pop3.ErrAuth.
var ErrAuth = errors.New("authentication failed")

// Class says what to do about an error.
type Class int

const (
	// Permanent: trying again fails the same way (a refused login, an
	// untrusted certificate, a folder that does not exist).
	Permanent Class = iota
	// Temporary: worth trying again now, on a new connection (a timeout,
	// a reset connection, a mailbox locked by another session).
	Temporary
	// Throttled: the server asks the client to slow down; try again after
	// RetryAfter(err).
	Throttled
)

func (c Class) String() string {
	switch c {
	case Permanent:
		return "permanent"
	case Temporary:
		return "temporary"
	case Throttled:
		return "throttled"
	}
	return "Class(" + strconv.Itoa(int(c)) + ")"
}

// DefaultRetryAfter is the wait after a throttled error whose server
// suggests none; maxRetryAfter bounds a suggestion.
const (
	DefaultRetryAfter = 10 * time.Minute
	maxRetryAfter     = time.Hour
)

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// MarkPermanent marks err as not worth retrying, whatever it wraps.
func MarkPermanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// Classify sorts err, from IMAP, POP3 or the network, for a caller that
// decides whether to retry. In order:
//   - nil, cancellation, anything MarkPermanent wraps, certificate and TLS
//     verification failures and a missing STLS are Permanent;
//   - a server's throttling codes and texts are Throttled, even when pop3
//     took the -ERR for a refused password;
//   - a refused login (ErrAuth of either package) is Permanent;
//   - a server's refusal (IMAP NO, BAD, BYE; POP3 -ERR) is Temporary when
//     its code says so (IMAP INUSE, SERVERBUG; POP3 IN-USE, SYS/TEMP) and
//     Permanent otherwise;
//   - a failed name lookup is Temporary unless no such host exists;
//   - timeouts and lost, reset or refused connections are Temporary;
//   - the rest, protocol violations included, is Permanent.
func Classify(err error) Class {
	switch {
	case permanent(err):
		return Permanent
	case throttled(err):
		return Throttled
	case errors.Is(err, ErrAuth), errors.Is(err, pop3.ErrAuth):
		return Permanent
	}
	if c, ok := refusal(err); ok {
		return c
	}
	if c, ok := dns(err); ok {
		return c
	}
	if network(err) {
		return Temporary
	}
	return Permanent
}

func permanent(err error) bool {
	var pe permanentError
	return err == nil || errors.Is(err, context.Canceled) || errors.As(err, &pe) ||
		errors.Is(err, pop3.ErrNoSTLS) || certError(err)
}

func certError(err error) bool {
	var (
		ue  x509.UnknownAuthorityError
		he  x509.HostnameError
		ce  x509.CertificateInvalidError
		ve  *tls.CertificateVerificationError
		rec tls.RecordHeaderError
	)
	return errors.As(err, &ue) || errors.As(err, &he) || errors.As(err, &ce) ||
		errors.As(err, &ve) || errors.As(err, &rec)
}

// throttled reports the codes of RFC 5530 and RFC 2449 that ask a client
// to come back later, and providers' throttling texts.
func throttled(err error) bool {
	var ie *imap.Error
	if errors.As(err, &ie) && (ie.Code == imap.ResponseCodeLimit || ie.Code == imap.ResponseCodeUnavailable ||
		ie.Code == imap.ResponseCodeOverQuota || throttleText(ie.Text)) {
		return true
	}
	var se *pop3.ServerError
	return errors.As(err, &se) && (strings.EqualFold(se.Code, "LOGIN-DELAY") || throttleText(se.Msg))
}

var (
	gmailLimits = regexp.MustCompile(`(?i)account exceeded command or bandwidth limits`)
	msThrottled = regexp.MustCompile(`(?i)request is throttled`)
	msBackoff   = regexp.MustCompile(`(?i)suggested backoff time: *([0-9]{1,12}) *milliseconds`)
)

func throttleText(text string) bool {
	return gmailLimits.MatchString(text) || msThrottled.MatchString(text)
}

// refusal sorts a server's refusal.
func refusal(err error) (Class, bool) {
	var ie *imap.Error
	if errors.As(err, &ie) {
		return classIf(ie.Code == imap.ResponseCodeInUse || ie.Code == imap.ResponseCodeServerBug), true
	}
	var se *pop3.ServerError
	if errors.As(err, &se) {
		code := strings.ToUpper(se.Code)
		return classIf(code == "IN-USE" || code == "SYS/TEMP"), true
	}
	return Permanent, false
}

// dns sorts a failed name lookup (one that found no host is permanent).
func dns(err error) (Class, bool) {
	var de *net.DNSError
	if errors.As(err, &de) {
		return classIf(de.IsTemporary || de.IsTimeout), true
	}
	return Permanent, false
}

func classIf(temporary bool) Class {
	if temporary {
		return Temporary
	}
	return Permanent
}

// lostConnection are the errors of a connection that timed out, broke or
// could not be made for now.
// ErrConnLost marks a failure while the server closed the connection
// under a command (the client library reports that as a parse error of
// the cut response): worth another try.
var ErrConnLost = errors.New("connection lost")

var lostConnection = []error{
	ErrConnLost,
	context.DeadlineExceeded, os.ErrDeadlineExceeded, io.EOF, io.ErrUnexpectedEOF, net.ErrClosed,
	syscall.ECONNRESET, syscall.ECONNREFUSED, syscall.ECONNABORTED, syscall.EPIPE, syscall.ETIMEDOUT,
	syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ENETDOWN,
}

func network(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, target := range lostConnection {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// RetryAfter is how long to wait before trying again after a Throttled
// error: the delay the server suggested (a POP3 LOGIN-DELAY capability,
// Microsoft's "Suggested Backoff Time"), at most an hour, or
// DefaultRetryAfter. It is 0 for errors of other classes.
func RetryAfter(err error) time.Duration {
	if Classify(err) != Throttled {
		return 0
	}
	d := suggestedDelay(err)
	if d <= 0 {
		return DefaultRetryAfter
	}
	return min(d, maxRetryAfter)
}

// SuggestedDelay returns the delay the server suggested with a Throttled
// error (a POP3 LOGIN-DELAY capability, Microsoft's "Suggested Backoff
// Time"), unbounded; ok is false when it suggested none or err is not
// Throttled.
func SuggestedDelay(err error) (time.Duration, bool) {
	if Classify(err) != Throttled {
		return 0, false
	}
	d := suggestedDelay(err)
	return d, d > 0
}

func suggestedDelay(err error) time.Duration {
	var de delayError
	if errors.As(err, &de) {
		return de.after
	}
	text := ""
	var ie *imap.Error
	var se *pop3.ServerError
	switch {
	case errors.As(err, &ie):
		text = ie.Text
	case errors.As(err, &se):
		text = se.Msg
	}
	m := msBackoff.FindStringSubmatch(text)
	if m == nil {
		return 0
	}
	ms, _ := strconv.ParseInt(m[1], 10, 64)
	return time.Duration(ms) * time.Millisecond
}

// delayError is a throttled error with the delay the server announced
// apart from it.
type delayError struct {
	err   error
	after time.Duration
}

func (e delayError) Error() string { return fmt.Sprintf("%v (retry after %v)", e.err, e.after) }
func (e delayError) Unwrap() error { return e.err }
