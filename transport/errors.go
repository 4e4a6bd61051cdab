package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/emersion/go-imap/v2"
)

// ErrAuth marks a rejected login: permanent, never retried.
var ErrAuth = errors.New("authentication failed")

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// Temporary reports whether err is worth a retry: timeouts, refused or
// reset connections, a connection closed mid-response, a server that says
// it is busy. Authentication, certificate and protocol refusals are not.
func Temporary(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var pe permanentError
	if errors.As(err, &pe) || errors.Is(err, ErrAuth) {
		return false
	}
	var ie *imap.Error
	if errors.As(err, &ie) {
		return ie.Code == imap.ResponseCodeUnavailable || ie.Code == imap.ResponseCodeInUse ||
			ie.Code == imap.ResponseCodeServerBug || ie.Code == imap.ResponseCodeLimit
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, context.DeadlineExceeded)
}

// classifyTLS makes certificate problems permanent.
func classifyTLS(err error) error {
	var (
		ue  x509.UnknownAuthorityError
		he  x509.HostnameError
		ce  x509.CertificateInvalidError
		ve  *tls.CertificateVerificationError
		rec tls.RecordHeaderError
	)
	if errors.As(err, &ue) || errors.As(err, &he) || errors.As(err, &ce) || errors.As(err, &ve) || errors.As(err, &rec) {
		return Permanent(err)
	}
	return err
}
