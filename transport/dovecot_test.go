package transport

import (
	"errors"
	"net"
	"syscall"
	"testing"

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
