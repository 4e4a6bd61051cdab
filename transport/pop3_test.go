package transport

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"

	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/pop3"
)

// pop3Server is a POP3 server for DialPOP3's tests. It accepts alice with
// the password "pw" (USER/PASS or SASL PLAIN) or the token goodToken
// (XOAUTH2, OAUTHBEARER) and refuses any other login with -ERR [AUTH].
// It records the commands it receives.
type pop3Server struct {
	addr  string
	caps  []string         // CAPA lines; "STLS" is answered with a handshake when cert is set
	cert  *tls.Certificate // for STLS
	login string           // when set, the answer to every login attempt

	mu   sync.Mutex
	cmds []string
}

func startPOP3Server(t *testing.T, s *pop3Server) *pop3Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s.addr = ln.Addr().String()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(conn)
		}
	}()
	return s
}

func (s *pop3Server) commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.cmds)
}

func (s *pop3Server) serve(conn net.Conn) {
	defer func() { conn.Close() }()
	r := bufio.NewReader(conn)
	conn.Write([]byte("+OK ready\r\n"))
	caps := s.caps
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		s.mu.Lock()
		s.cmds = append(s.cmds, line)
		s.mu.Unlock()
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "CAPA":
			conn.Write([]byte("+OK\r\n" + strings.Join(append(slices.Clone(caps), "."), "\r\n") + "\r\n"))
		case "STLS":
			conn.Write([]byte("+OK begin TLS\r\n"))
			conn = tls.Server(conn, &tls.Config{Certificates: []tls.Certificate{*s.cert}})
			r = bufio.NewReader(conn)
			caps = slices.DeleteFunc(slices.Clone(caps), func(c string) bool { return c == "STLS" })
		case "USER", "NOOP", "QUIT":
			conn.Write([]byte("+OK\r\n"))
		case "PASS":
			conn.Write([]byte(s.answer(arg == "pw")))
		case "AUTH":
			conn.Write([]byte(s.answer(saslOK(arg))))
		default:
			conn.Write([]byte("-ERR unknown command\r\n"))
		}
	}
}

func (s *pop3Server) answer(ok bool) string {
	switch {
	case s.login != "":
		return s.login + "\r\n"
	case ok:
		return "+OK logged in\r\n"
	}
	return "-ERR [AUTH] Authentication failed\r\n"
}

// saslOK checks the mechanism and initial response of an AUTH command.
func saslOK(arg string) bool {
	mech, b64, _ := strings.Cut(arg, " ")
	ir, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return false
	}
	var srv sasl.Server
	switch mech {
	case "PLAIN":
		srv = sasl.NewPlainServer(func(_, user, pass string) error {
			if user != "alice" || pass != "pw" {
				return errors.New("refused")
			}
			return nil
		})
	case "OAUTHBEARER":
		srv = sasl.NewOAuthBearerServer(func(o sasl.OAuthBearerOptions) *sasl.OAuthBearerError {
			if o.Username != "alice" || o.Token != goodToken {
				return &sasl.OAuthBearerError{Status: "invalid_token"}
			}
			return nil
		})
	case "XOAUTH2":
		return string(ir) == "user=alice\x01auth=Bearer "+goodToken+"\x01\x01"
	default:
		return false
	}
	_, done, err := srv.Next(ir)
	return done && err == nil
}

// TestAuthChoice: both protocols pick the same way of logging in for each
// auth setting and offer.
func TestAuthChoice(t *testing.T) {
	tests := []struct {
		auth    string
		offered []string
		want    string // SASL mechanism, or "password" for LOGIN / USER and PASS
	}{
		{"", []string{"PLAIN", "LOGIN"}, "PLAIN"},
		{"", []string{"plain"}, "PLAIN"},
		{"", []string{"LOGIN"}, "password"},
		{"", nil, "password"},
		{"plain", nil, "PLAIN"},
		{"login", []string{"PLAIN"}, "password"},
		{"xoauth2", nil, "XOAUTH2"},
		{"oauthbearer", []string{"PLAIN"}, "OAUTHBEARER"},
	}
	for _, tc := range tests {
		ep := Endpoint{Username: "alice", Auth: tc.auth}
		sc, err := chooseSASL(ep, "secret", tc.offered)
		if err != nil {
			t.Fatal(err)
		}
		got := "password"
		if sc != nil {
			got, _, _ = sc.Start()
		}
		if got != tc.want {
			t.Errorf("auth %q, server offers %q: %s, want %s", tc.auth, tc.offered, got, tc.want)
		}
	}
	if _, err := chooseSASL(Endpoint{Auth: "cram-md5"}, "secret", nil); err == nil || Classify(err) != Permanent {
		t.Errorf("unknown auth: %v; want a permanent error", err)
	}
}

// TestXOAuth2Once: the XOAUTH2 initial response is the same bytes for both
// protocols, as Gmail and Microsoft 365 document it.
func TestXOAuth2Once(t *testing.T) {
	srv := startPOP3Server(t, &pop3Server{caps: []string{"SASL XOAUTH2"}})
	c, err := DialPOP3(t.Context(), endpointFor(srv.addr, config.TLSNone, "xoauth2", goodToken), POP3Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	want := "AUTH XOAUTH2 " + base64.StdEncoding.EncodeToString([]byte("user=alice\x01auth=Bearer "+goodToken+"\x01\x01"))
	if got := srv.commands(); !slices.Contains(got, want) {
		t.Errorf("commands %q lack %q", got, want)
	}
}

// TestPOP3STLS: STLS protects the login; a server that does not offer it
// gets no credentials, in plain text or otherwise.
func TestPOP3STLS(t *testing.T) {
	cert, caFile := selfSigned(t)
	srv := startPOP3Server(t, &pop3Server{caps: []string{"USER", "STLS"}, cert: cert})
	ep := endpointFor(srv.addr, config.TLSStartTLS, "", "pw")
	ep.CAFile = caFile
	c, err := DialPOP3(t.Context(), ep, POP3Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got := srv.commands(); !slices.Equal(got, []string{"CAPA", "STLS", "CAPA", "USER alice", "PASS pw"}) {
		t.Errorf("commands %q", got)
	}

	plain := startPOP3Server(t, &pop3Server{caps: []string{"USER"}})
	_, err = DialPOP3(t.Context(), endpointFor(plain.addr, config.TLSStartTLS, "", "pw"), POP3Options{})
	if !errors.Is(err, pop3.ErrNoSTLS) || Classify(err) != Permanent {
		t.Fatalf("STLS not offered: %v; want a permanent pop3.ErrNoSTLS", err)
	}
	if got := plain.commands(); !slices.Equal(got, []string{"CAPA"}) {
		t.Errorf("commands %q, want CAPA only", got)
	}
}
