package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/mailkeep/mailkeep/config"
)

// hintError adds to an error what the user may change in the account's
// settings. It is part of the error's text (summary, status, logs), never
// holds a secret, and does not change how Classify sorts the error.
type hintError struct {
	err  error
	hint string
}

func (e hintError) Error() string { return e.err.Error() + " (hint: " + e.hint + ")" }
func (e hintError) Unwrap() error { return e.err }

func withHint(err error, format string, args ...any) error {
	return hintError{err, fmt.Sprintf(format, args...)}
}

// greetingHint explains a greeting that never came on a connection without
// TLS yet: the port may expect TLS from the first byte, and the server
// then waits for the client's handshake as the client waits for its
// greeting.
func (e Endpoint) greetingHint(err error) error {
	if !Stalled(err) || e.implicitTLS() {
		return err
	}
	return withHint(err, "if port %d expects TLS from the first byte, as 993 (IMAP) and 995 (POP3) do, set `tls: %s`",
		e.Port, config.TLSImplicit)
}

// tlsHint explains the TLS failures that a setting fixes. implicitPort is
// the protocol's implicit-TLS port (993 or 995).
func (e Endpoint) tlsHint(err error, implicitPort int) error {
	var (
		rec  tls.RecordHeaderError
		auth x509.UnknownAuthorityError
		host x509.HostnameError
	)
	switch {
	case errors.As(err, &rec):
		return withHint(err, "port %d does not speak TLS from the first byte: try `tls: %s`, or port %d",
			e.Port, config.TLSStartTLS, implicitPort)
	case errors.As(err, &auth):
		return withHint(err, "no trusted authority signed the server's certificate: set `ca_file` to the PEM file of the one that did")
	case errors.As(err, &host):
		return withHint(err, "the certificate is not for %q: connect by a name it holds, or set `tls_server_name` to one",
			e.tlsName())
	}
	return err
}

// tlsName is the name the certificate is checked against.
func (e Endpoint) tlsName() string {
	if e.ServerName != "" {
		return e.ServerName
	}
	return e.Host
}
