package transport

import (
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
)

// TestDovecotTLSModes dials Dovecot in each TLS mode with both protocols
// and logs in; without the test CA, TLS fails permanently.
func TestDovecotTLSModes(t *testing.T) {
	s := dovecottest.Start(t, dovecottest.Options{TLS: true})
	pass := s.Password("bob")
	modes := []struct {
		mode, imapAddr, pop3Addr string
	}{
		{config.TLSNone, s.IMAPAddr, s.POP3Addr},
		{config.TLSImplicit, s.IMAPSAddr, s.POP3SAddr},
		{config.TLSStartTLS, s.IMAPAddr, s.POP3Addr},
	}
	for _, m := range modes {
		t.Run(m.mode, func(t *testing.T) {
			ep := endpointFor(m.imapAddr, m.mode, "", pass)
			ep.Username, ep.CAFile = "bob", s.CACert
			ic, err := DialIMAP(t.Context(), ep, IMAPOptions{})
			if err != nil {
				t.Fatalf("DialIMAP: %v\n%s", err, s.LogTail(20))
			}
			CloseIMAP(ic)
			ep = endpointFor(m.pop3Addr, m.mode, "", pass)
			ep.Username, ep.CAFile = "bob", s.CACert
			pc, err := DialPOP3(t.Context(), ep, POP3Options{})
			if err != nil {
				t.Fatalf("DialPOP3: %v\n%s", err, s.LogTail(20))
			}
			if _, _, err := pc.Stat(t.Context()); err != nil {
				t.Error(err)
			}
			if err := pc.Quit(t.Context()); err != nil {
				t.Error(err)
			}
		})
	}
	for _, addr := range []string{s.IMAPSAddr, s.POP3SAddr} {
		ep := endpointFor(addr, config.TLSImplicit, "", pass)
		var err error
		if addr == s.IMAPSAddr {
			_, err = DialIMAP(t.Context(), ep, IMAPOptions{})
		} else {
			_, err = DialPOP3(t.Context(), ep, POP3Options{})
		}
		if err == nil || Classify(err) != Permanent {
			t.Errorf("untrusted certificate at %s: %v; want a permanent error", addr, err)
		}
	}
}

// TestDialRefused: a closed port is a temporary failure for both protocols.
func TestDialRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ep := endpointFor(addr, config.TLSNone, "", "pw")
	_, ierr := DialIMAP(t.Context(), ep, IMAPOptions{})
	_, perr := DialPOP3(t.Context(), ep, POP3Options{})
	for _, err := range []error{ierr, perr} {
		if Classify(err) != Temporary || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("dial to a closed port: %v; want a temporary ECONNREFUSED", err)
		}
	}
}

// TestDovecotTLSMistakes: the TLS settings a user gets wrong, against
// Dovecot, fail fast with a hint for both protocols: no TLS to an
// implicit-TLS port within the greeting's bound (Dovecot waits for the
// handshake as the client waits for the greeting), TLS to a plain port,
// and a certificate without its CA.
func TestDovecotTLSMistakes(t *testing.T) {
	s := dovecottest.Start(t, dovecottest.Options{TLS: true})
	tests := []struct {
		name, addr, mode string
		pop, stall       bool
		want             string
	}{
		{"imap/no TLS to 993", s.IMAPSAddr, config.TLSNone, false, true, "`tls: implicit`"},
		{"pop3/no TLS to 995", s.POP3SAddr, config.TLSNone, true, true, "`tls: implicit`"},
		{"imap/STARTTLS to 993", s.IMAPSAddr, config.TLSStartTLS, false, true, "`tls: implicit`"},
		{"imap/TLS to 143", s.IMAPAddr, config.TLSImplicit, false, false, "`tls: starttls`, or port 993"},
		{"pop3/TLS to 110", s.POP3Addr, config.TLSImplicit, true, false, "`tls: starttls`, or port 995"},
		{"imap/no CA", s.IMAPSAddr, config.TLSImplicit, false, false, "`ca_file`"},
		{"pop3/no CA", s.POP3SAddr, config.TLSImplicit, true, false, "`ca_file`"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ep := endpointFor(tc.addr, tc.mode, "", s.Password("bob"))
			ep.Username = "bob"
			if tc.stall {
				ep.Timeout = testBound
			}
			start := time.Now()
			err := dial(t.Context(), ep, tc.pop)
			t.Log(err)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v; want the hint %s", err, tc.want)
			}
			if tc.stall {
				checkStall(t, err, "greeting from", time.Since(start), testBound)
			} else if Classify(err) != Permanent || time.Since(start) > fast {
				t.Errorf("%v after %v; want a permanent error at once", err, time.Since(start))
			}
		})
	}
}
