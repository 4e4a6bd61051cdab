package transport

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"

	"github.com/mailkeep/mailkeep/config"
)

const goodToken = "ya29.good-token"

// oauthSession adds XOAUTH2 and OAUTHBEARER to a memory session: the
// server checks the exact SASL exchange a client sends.
type oauthSession struct {
	imapserver.Session
	logins *atomic.Int32
}

func (s oauthSession) AuthenticateMechanisms() []string {
	return []string{"XOAUTH2", "OAUTHBEARER", sasl.Plain}
}

func (s oauthSession) Authenticate(mech string) (sasl.Server, error) {
	switch mech {
	case "XOAUTH2":
		return xoauth2Server{s}, nil
	case "OAUTHBEARER":
		return sasl.NewOAuthBearerServer(func(o sasl.OAuthBearerOptions) *sasl.OAuthBearerError {
			if o.Username != "alice" || o.Token != goodToken || s.Login("alice", "pw") != nil {
				return &sasl.OAuthBearerError{Status: "invalid_token"}
			}
			return nil
		}), nil
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return s.Login(user, pass) }), nil
	}
	return nil, errors.New("unsupported mechanism")
}

func (s oauthSession) Login(user, pass string) error {
	s.logins.Add(1)
	if user == "busy" {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable, Text: "Temporary authentication failure"}
	}
	return s.Session.Login(user, pass)
}

type xoauth2Server struct{ s oauthSession }

func (x xoauth2Server) Next(resp []byte) ([]byte, bool, error) {
	want := "user=alice\x01auth=Bearer " + goodToken + "\x01\x01"
	if string(resp) != want {
		return nil, true, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAuthenticationFailed, Text: "bad token"}
	}
	return nil, true, x.s.Login("alice", "pw")
}

type testServer struct {
	addr   string
	logins atomic.Int32
}

// startServer runs an in-process IMAP server; with cert, it speaks
// implicit TLS.
func startServer(t *testing.T, cert *tls.Certificate) *testServer {
	t.Helper()
	mem := imapmemserver.New()
	user := imapmemserver.NewUser("alice", "pw")
	user.Create("INBOX", nil)
	mem.AddUser(user)
	ts := &testServer{}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return oauthSession{Session: mem.NewSession(), logins: &ts.logins}, nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapSASLIR: {}},
		InsecureAuth: true,
		Logger:       log.New(io.Discard, "", 0),
	})
	var ln net.Listener
	var err error
	if cert != nil {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{*cert}})
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	ts.addr = ln.Addr().String()
	return ts
}

func endpointFor(addr, mode, auth, secret string) Endpoint {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return Endpoint{Host: host, Port: p, TLS: mode, Username: "alice", Auth: auth,
		Secret: func(context.Context) (string, error) { return secret, nil }}
}

// TestAuthMechanisms logs in with each auth setting over IMAP and POP3:
// the same outcome, and a refused login is a permanent ErrAuth that does
// not show the secret.
func TestAuthMechanisms(t *testing.T) {
	imapSrv := startServer(t, nil)
	pop3Srv := startPOP3Server(t, &pop3Server{caps: []string{"USER", "SASL PLAIN XOAUTH2 OAUTHBEARER"}})
	dial := map[string]func(ctx context.Context, auth, secret string) (io.Closer, error){
		"IMAP": func(ctx context.Context, auth, secret string) (io.Closer, error) {
			c, err := DialIMAP(ctx, endpointFor(imapSrv.addr, config.TLSNone, auth, secret), IMAPOptions{})
			if err != nil {
				return nil, err
			}
			return c, nil
		},
		"POP3": func(ctx context.Context, auth, secret string) (io.Closer, error) {
			c, err := DialPOP3(ctx, endpointFor(pop3Srv.addr, config.TLSNone, auth, secret), POP3Options{})
			if err != nil {
				return nil, err
			}
			return c, nil
		},
	}
	tests := []struct {
		auth, secret string
		wantErr      error
	}{
		{"", "pw", nil},
		{"plain", "pw", nil},
		{"login", "pw", nil},
		{"xoauth2", goodToken, nil},
		{"xoauth2", "stolen", ErrAuth},
		{"oauthbearer", goodToken, nil},
		{"oauthbearer", "stolen", ErrAuth},
		{"", "wrong", ErrAuth},
		{"login", "wrong", ErrAuth},
	}
	for _, protocol := range []string{"IMAP", "POP3"} {
		for _, tc := range tests {
			t.Run(protocol+"/"+tc.auth+"/"+tc.secret, func(t *testing.T) {
				c, err := dial[protocol](t.Context(), tc.auth, tc.secret)
				if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
					t.Fatalf("got %v, want %v", err, tc.wantErr)
				}
				if err == nil {
					c.Close()
					return
				}
				if Classify(err) != Permanent {
					t.Errorf("a refused login must be permanent: %v", err)
				}
				if containsSecret(err, tc.secret) {
					t.Errorf("the error shows the secret: %v", err)
				}
			})
		}
	}
}

func containsSecret(err error, secret string) bool {
	return len(secret) > 3 && err != nil && contains(err.Error(), secret)
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestStartTLSNotOffered: a server without STARTTLS is an error, and the
// password never crosses the wire in plain text.
func TestStartTLSNotOffered(t *testing.T) {
	srv := startServer(t, nil)
	_, err := DialIMAP(t.Context(), endpointFor(srv.addr, config.TLSStartTLS, "", "pw"), IMAPOptions{})
	if err == nil {
		t.Fatal("STARTTLS against a server that does not offer it succeeded")
	}
	if n := srv.logins.Load(); n != 0 {
		t.Fatalf("%d logins reached the server without TLS", n)
	}
}

func TestImplicitTLSVerified(t *testing.T) {
	cert, caFile := selfSigned(t)
	srv := startServer(t, cert)
	_, err := DialIMAP(t.Context(), endpointFor(srv.addr, config.TLSImplicit, "", "pw"), IMAPOptions{})
	if err == nil || Classify(err) != Permanent {
		t.Fatalf("untrusted certificate: %v, want a permanent error", err)
	}
	ep := endpointFor(srv.addr, config.TLSImplicit, "", "pw")
	ep.CAFile = caFile
	c, err := DialIMAP(t.Context(), ep, IMAPOptions{})
	if err != nil {
		t.Fatalf("with the CA file: %v", err)
	}
	c.Close()
}

func selfSigned(t *testing.T) (*tls.Certificate, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, path
}

// TestCloseIMAPBounded: a server that never answers LOGOUT holds CloseIMAP
// for the bound only, and the connection is closed.
func TestCloseIMAPBounded(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.Write([]byte("* OK IMAP4rev1 ready\r\n"))
		io.Copy(io.Discard, conn) // reads LOGOUT, never answers
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := imapclient.New(conn, nil)
	if err := c.WaitGreeting(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	CloseIMAP(c)
	if d := time.Since(start); d < logoutTimeout || d > logoutTimeout+2*time.Second {
		t.Errorf("CloseIMAP took %v, want the %v bound", d, logoutTimeout)
	}
	select {
	case <-c.Closed():
	default:
		t.Error("the connection is still open")
	}
	CloseIMAP(nil)
}
