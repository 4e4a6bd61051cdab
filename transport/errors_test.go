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
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/pop3"
)

// Each error kind in the shape IMAP gives it and in the shape POP3 gives it.
// The network shapes are what the clients wrap; a kind that one protocol
// does not have (IMAP's [UNAVAILABLE], [OVERQUOTA]) has no shape there.
func imapShape(err error) error { return fmt.Errorf("select %q: %w", "INBOX", err) }
func pop3Shape(err error) error { return fmt.Errorf("pop3: retr: read response: %w", err) }
func dialShape(err error) error { return fmt.Errorf("connect 192.0.2.1:993: %w", err) }

func imapNo(code imap.ResponseCode, text string) error {
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: code, Text: text}
}

func pop3Err(cmd, code, text string) error {
	if code != "" {
		text = "[" + code + "] " + text
	}
	return &pop3.ServerError{Cmd: cmd, Code: code, Msg: text}
}

func sysErr(op string, errno syscall.Errno) error {
	return &net.OpError{Op: op, Net: "tcp", Err: os.NewSyscallError(op, errno)}
}

// timeoutError is a net.Error that timed out, as a dialer's may.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

const msThrottle = "Request is throttled. Suggested Backoff Time: 299999 milliseconds"

func TestClassify(t *testing.T) {
	untrusted := &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}
	tests := []struct {
		kind       string
		imap, pop3 error
		want       Class
		after      time.Duration
	}{
		{"no error", nil, nil, Permanent, 0},
		{"cancelled", imapShape(context.Canceled), pop3Shape(context.Canceled), Permanent, 0},
		{"login refused",
			fmt.Errorf("%w for alice at h:993: %s", ErrAuth, "[AUTHENTICATIONFAILED] bad"),
			fmt.Errorf("%w: %w", pop3.ErrAuth, pop3Err("PASS", "AUTH", "bad")), Permanent, 0},
		{"login refused, cut short",
			fmt.Errorf("%w: %w", ErrAuth, io.ErrUnexpectedEOF),
			fmt.Errorf("%w: %w", pop3.ErrAuth, io.ErrUnexpectedEOF), Permanent, 0},
		{"marked permanent, wrapping EOF",
			MarkPermanent(imapShape(io.EOF)), MarkPermanent(pop3Shape(io.EOF)), Permanent, 0},
		{"marked permanent, wrapping a throttle",
			MarkPermanent(imapNo(imap.ResponseCodeLimit, "slow down")),
			MarkPermanent(pop3Err("PASS", "LOGIN-DELAY", "wait")), Permanent, 0},
		{"untrusted certificate",
			fmt.Errorf("TLS handshake with h:993: %w", untrusted),
			fmt.Errorf("STLS with h:110: pop3: stls: tls handshake: %w", untrusted), Permanent, 0},
		{"wrong host name",
			fmt.Errorf("TLS handshake with h:993: %w", x509.HostnameError{}),
			fmt.Errorf("TLS handshake with h:995: %w", x509.HostnameError{}), Permanent, 0},
		{"not TLS at all",
			fmt.Errorf("TLS handshake with h:993: %w", tls.RecordHeaderError{}),
			fmt.Errorf("TLS handshake with h:995: %w", tls.RecordHeaderError{}), Permanent, 0},
		{"STARTTLS not offered",
			fmt.Errorf("STARTTLS with h:143: %w", &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Unknown command"}),
			fmt.Errorf("STLS with h:110: pop3: stls: %w", pop3.ErrNoSTLS), Permanent, 0},
		{"no such host",
			dialShape(&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", IsNotFound: true}}),
			dialShape(&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", IsNotFound: true}}), Permanent, 0},
		{"DNS server failure",
			dialShape(&net.OpError{Op: "dial", Err: &net.DNSError{Err: "server misbehaving", IsTemporary: true}}),
			dialShape(&net.OpError{Op: "dial", Err: &net.DNSError{Err: "server misbehaving", IsTemporary: true}}), Temporary, 0},
		{"DNS timeout",
			dialShape(&net.OpError{Op: "dial", Err: &net.DNSError{Err: "timeout", IsTimeout: true}}),
			dialShape(&net.OpError{Op: "dial", Err: &net.DNSError{Err: "timeout", IsTimeout: true}}), Temporary, 0},
		{"refusal without a code",
			imapShape(imapNo(imap.ResponseCodeNonExistent, "Mailbox doesn't exist")),
			pop3Shape(pop3Err("RETR", "", "no such message")), Permanent, 0},
		{"command refused as bad",
			imapShape(&imap.Error{Type: imap.StatusResponseTypeBad, Text: "Error in IMAP command"}),
			pop3Shape(pop3Err("UIDL", "SYS/PERM", "not supported")), Permanent, 0},
		{"mailbox in use",
			imapShape(imapNo(imap.ResponseCodeInUse, "locked")),
			pop3Err("PASS", "IN-USE", "locked by another session"), Temporary, 0},
		{"server trouble",
			imapShape(imapNo(imap.ResponseCodeServerBug, "internal error")),
			pop3Err("PASS", "SYS/TEMP", "try later"), Temporary, 0},
		{"rate limit",
			imapShape(imapNo(imap.ResponseCodeLimit, "too many commands")),
			fmt.Errorf("login to h:110: %w", pop3Err("PASS", "LOGIN-DELAY", "wait")), Throttled, DefaultRetryAfter},
		{"service unavailable", imapNo(imap.ResponseCodeUnavailable, "try later"), nil, Throttled, DefaultRetryAfter},
		{"over quota", imapShape(imapNo(imap.ResponseCodeOverQuota, "quota")), nil, Throttled, DefaultRetryAfter},
		{"Gmail limits",
			imapNo(imap.ResponseCodeAlert, "Account exceeded command or bandwidth limits. (Failure)"),
			pop3Err("RETR", "", "Account exceeded command or bandwidth limits."), Throttled, DefaultRetryAfter},
		{"Microsoft throttling",
			imapShape(imapNo("", msThrottle)), pop3Shape(pop3Err("RETR", "", msThrottle)), Throttled, 299999 * time.Millisecond},
		{"Microsoft throttling, a day",
			imapNo("", "Request is throttled. Suggested Backoff Time: 86400000 milliseconds"),
			pop3Err("PASS", "", "Request is throttled. Suggested Backoff Time: 86400000 milliseconds"), Throttled, time.Hour},
		{"login refused with a throttling text",
			fmt.Errorf("login to h:993: %w", imapNo("", msThrottle)),
			fmt.Errorf("%w: %w", pop3.ErrAuth, pop3Err("PASS", "", msThrottle)), Throttled, 299999 * time.Millisecond},
		{"connection cut", imapShape(io.ErrUnexpectedEOF), pop3Shape(io.ErrUnexpectedEOF), Temporary, 0},
		{"EOF", fmt.Errorf("greeting from h:993: %w", io.EOF), pop3Shape(io.EOF), Temporary, 0},
		{"connection closed", imapShape(net.ErrClosed), pop3Shape(net.ErrClosed), Temporary, 0},
		{"read deadline", imapShape(&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}),
			pop3Shape(&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}), Temporary, 0},
		{"context deadline", dialShape(context.DeadlineExceeded), pop3Shape(context.DeadlineExceeded), Temporary, 0},
		{"dial timeout", dialShape(&net.OpError{Op: "dial", Err: timeoutError{}}),
			dialShape(&net.OpError{Op: "dial", Err: timeoutError{}}), Temporary, 0},
		{"ECONNRESET", imapShape(sysErr("read", syscall.ECONNRESET)), pop3Shape(sysErr("read", syscall.ECONNRESET)), Temporary, 0},
		{"ECONNREFUSED", dialShape(sysErr("dial", syscall.ECONNREFUSED)), dialShape(sysErr("dial", syscall.ECONNREFUSED)), Temporary, 0},
		{"ECONNABORTED", imapShape(sysErr("read", syscall.ECONNABORTED)), pop3Shape(sysErr("read", syscall.ECONNABORTED)), Temporary, 0},
		{"EPIPE", imapShape(sysErr("write", syscall.EPIPE)), pop3Shape(sysErr("write", syscall.EPIPE)), Temporary, 0},
		{"ETIMEDOUT", imapShape(sysErr("read", syscall.ETIMEDOUT)), pop3Shape(sysErr("read", syscall.ETIMEDOUT)), Temporary, 0},
		{"EHOSTUNREACH", dialShape(sysErr("dial", syscall.EHOSTUNREACH)), dialShape(sysErr("dial", syscall.EHOSTUNREACH)), Temporary, 0},
		{"ENETUNREACH", dialShape(sysErr("dial", syscall.ENETUNREACH)), dialShape(sysErr("dial", syscall.ENETUNREACH)), Temporary, 0},
		{"ENETDOWN", dialShape(sysErr("dial", syscall.ENETDOWN)), dialShape(sysErr("dial", syscall.ENETDOWN)), Temporary, 0},
		{"protocol violation",
			errors.New("in response: cannot read tag: expected '*', got 'x'"), pop3Violation(t), Permanent, 0},
		{"anything else", errors.New("something else"), errors.New("something else"), Permanent, 0},
	}
	for _, tc := range tests {
		for _, shape := range []struct {
			protocol string
			err      error
		}{{"IMAP", tc.imap}, {"POP3", tc.pop3}} {
			if shape.err == nil && tc.kind != "no error" {
				continue
			}
			if got := Classify(shape.err); got != tc.want {
				t.Errorf("%s, %s: Classify(%v) = %v, want %v", tc.kind, shape.protocol, shape.err, got, tc.want)
			}
			if got := RetryAfter(shape.err); got != tc.after {
				t.Errorf("%s, %s: RetryAfter(%v) = %v, want %v", tc.kind, shape.protocol, shape.err, got, tc.after)
			}
		}
	}
}

// pop3Violation returns the error of a POP3 session whose server greets in
// IMAP.
func pop3Violation(t *testing.T) error {
	client, server := net.Pipe()
	defer server.Close()
	go server.Write([]byte("* OK IMAP4rev1 ready\r\n"))
	_, err := pop3.NewClient(t.Context(), client, &pop3.Options{Timeout: 5 * time.Second})
	if err == nil {
		t.Fatal("a POP3 session started with an IMAP greeting")
	}
	return err
}

// TestLoginThrottled: a login the server defers is not ErrAuth, and the
// delay a POP3 server announces with LOGIN-DELAY is the one to wait.
func TestLoginThrottled(t *testing.T) {
	tests := []struct {
		name  string
		srv   *pop3Server
		want  Class
		after time.Duration
	}{
		{"LOGIN-DELAY announced", &pop3Server{caps: []string{"USER", "LOGIN-DELAY 900"}, login: "-ERR [LOGIN-DELAY] wait"},
			Throttled, 15 * time.Minute},
		{"LOGIN-DELAY", &pop3Server{caps: []string{"USER"}, login: "-ERR [LOGIN-DELAY] wait"}, Throttled, DefaultRetryAfter},
		{"IN-USE", &pop3Server{caps: []string{"USER"}, login: "-ERR [IN-USE] locked"}, Temporary, 0},
		{"Microsoft", &pop3Server{caps: []string{"USER"}, login: "-ERR " + msThrottle}, Throttled, 299999 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startPOP3Server(t, tc.srv)
			_, err := DialPOP3(t.Context(), endpointFor(srv.addr, config.TLSNone, "", "pw"), POP3Options{})
			if errors.Is(err, ErrAuth) || Classify(err) != tc.want || RetryAfter(err) != tc.after {
				t.Errorf("%v: ErrAuth %v, class %v, retry after %v; want %v after %v",
					err, errors.Is(err, ErrAuth), Classify(err), RetryAfter(err), tc.want, tc.after)
			}
		})
	}
	srv := startServer(t, nil)
	ep := endpointFor(srv.addr, config.TLSNone, "login", "pw")
	ep.Username = "busy"
	_, err := DialIMAP(t.Context(), ep, IMAPOptions{})
	if errors.Is(err, ErrAuth) || Classify(err) != Throttled {
		t.Errorf("IMAP NO [UNAVAILABLE] to LOGIN: %v, class %v; want throttled, not ErrAuth", err, Classify(err))
	}
}

func TestClassString(t *testing.T) {
	for c, want := range map[Class]string{Permanent: "permanent", Temporary: "temporary", Throttled: "throttled", 7: "Class(7)"} {
		if c.String() != want {
			t.Errorf("%d: %q, want %q", int(c), c.String(), want)
		}
	}
}
