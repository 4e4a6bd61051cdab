package transport

import (
	"bufio"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/config"
)

// TestTLSHints: the TLS mistakes a setting fixes say which, fast, with
// the class Classify gives them, for both protocols and both ways of
// starting TLS; the secret is never in the text.
func TestTLSHints(t *testing.T) {
	cert, caFile := selfSigned(t)
	plainIMAP := imapUntil(imapGreeting, nil)
	plainPOP3 := pop3Until(nil)
	imapTLS := tlsThen(cert, imapUntil(imapGreeting, imapLogin))
	imapSTARTTLS := imapScript{imapGreeting, imapLogin, cert}.serve
	pop3TLS := tlsThen(cert, pop3Until(map[string]string{"CAPA": "+OK\r\nUSER\r\n.\r\n", "USER": "+OK\r\n", "PASS": "+OK\r\n"}))
	pop3STLS := func(c net.Conn, r *bufio.Reader) {
		pop3Until(map[string]string{"CAPA": "+OK\r\nSTLS\r\n.\r\n"})(c, r) // returns at STLS
		c.Write([]byte("+OK begin TLS\r\n"))
		tls.Server(c, &tls.Config{Certificates: []tls.Certificate{*cert}}).Handshake()
	}
	tests := []struct {
		name       string
		pop        bool
		mode       string
		serve      func(net.Conn, *bufio.Reader)
		ca, server string // CA file, tls_server_name
		want       []string
	}{
		{"imap/TLS to a plain port", false, config.TLSImplicit, plainIMAP, caFile, "", []string{"`tls: starttls`", "port 993"}},
		{"pop3/TLS to a plain port", true, config.TLSImplicit, plainPOP3, caFile, "", []string{"`tls: starttls`", "port 995"}},
		{"imap/unknown authority", false, config.TLSImplicit, imapTLS, "", "", []string{"`ca_file`"}},
		{"imap/unknown authority after STARTTLS", false, config.TLSStartTLS, imapSTARTTLS, "", "", []string{"`ca_file`"}},
		{"pop3/unknown authority", true, config.TLSImplicit, pop3TLS, "", "", []string{"`ca_file`"}},
		{"pop3/unknown authority after STLS", true, config.TLSStartTLS, pop3STLS, "", "", []string{"`ca_file`"}},
		{"imap/another name", false, config.TLSImplicit, imapTLS, caFile, "imap.example.com", []string{"`tls_server_name`", `"imap.example.com"`}},
		{"pop3/another name", true, config.TLSImplicit, pop3TLS, caFile, "pop.example.com", []string{"`tls_server_name`", `"pop.example.com"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ep := endpointFor(scripted(t, tc.serve), tc.mode, "", "pw-Secr3t")
			ep.CAFile, ep.ServerName = tc.ca, tc.server
			start := time.Now()
			err := dial(t.Context(), ep, tc.pop)
			t.Log(err)
			if err == nil || Classify(err) != Permanent {
				t.Fatalf("%v; want a permanent error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v\nlacks %s", err, w)
				}
			}
			if strings.Contains(err.Error(), "Secr3t") {
				t.Errorf("the error shows the secret: %v", err)
			}
			if d := time.Since(start); d > fast {
				t.Errorf("failed after %v", d)
			}
		})
	}
	// A hint changes the text only.
	err := hintError{tls.RecordHeaderError{Msg: "x"}, "try"}
	if Classify(err) != Permanent || !Stalled(withHint(&StallError{Op: "x", Bound: 1}, "h")) {
		t.Error("a hint changed how the error is sorted")
	}
}
