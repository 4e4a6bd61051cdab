package pop3

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// step is one exchange of a scripted POP3 dialog, seen from the server.
type step struct {
	// expect is the command line the client must send next, without CRLF.
	// A trailing "*" matches any rest. Empty: send without reading.
	expect string
	// send is written chunk by chunk, with a pause after each chunk so
	// that the client sees them in separate reads.
	send []string
	// then is what the server does after sending.
	then action
}

type action int

const (
	carryOn   action = iota
	hangUp           // close the connection
	goSilent         // keep the connection open, never answer again
	startTLS         // run a TLS handshake as the server
	refuseTLS        // run a TLS handshake that the client is expected to abort
)

// chunkPause separates the chunks of one step.
const chunkPause = 5 * time.Millisecond

// scriptServer serves one connection on 127.0.0.1 from a script.
type scriptServer struct {
	t      testing.TB
	ln     net.Listener
	script []step
	chunks [][][]byte // script[i].send as bytes
	stop   chan struct{}
	done   chan struct{}

	mu    sync.Mutex
	conn  net.Conn
	errs  []string
	extra []string // commands received after the script ran out
}

// serveScript starts a server that plays script to the first client and
// reports deviations from it when the test ends.
func serveScript(t testing.TB, script []step) *scriptServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scriptServer{t: t, ln: ln, script: script, stop: make(chan struct{}), done: make(chan struct{})}
	for _, st := range script { // converted now, not while the client is measured
		var chunks [][]byte
		for _, c := range st.send {
			chunks = append(chunks, []byte(c))
		}
		s.chunks = append(s.chunks, chunks)
	}
	go s.run()
	t.Cleanup(s.shutdown)
	return s
}

func (s *scriptServer) addr() string { return s.ln.Addr().String() }

func (s *scriptServer) shutdown() {
	close(s.stop)
	s.ln.Close()
	s.mu.Lock()
	if s.conn != nil {
		s.conn.Close()
	}
	s.mu.Unlock()
	<-s.done
	for _, e := range s.errs {
		s.t.Errorf("script server: %s", e)
	}
}

// received waits for the client to hang up and returns the commands it sent
// after the script ran out.
func (s *scriptServer) received() []string {
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.t.Fatal("script server: client did not hang up")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.extra
}

func (s *scriptServer) failf(format string, args ...any) {
	s.mu.Lock()
	s.errs = append(s.errs, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

func (s *scriptServer) run() {
	defer close(s.done)
	conn, err := s.ln.Accept()
	if err != nil {
		s.failf("accept: %v", err)
		return
	}
	s.setConn(conn)
	r := bufio.NewReader(conn)
	for i, st := range s.script {
		if !s.play(i, st, &conn, &r) {
			return
		}
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		s.mu.Lock()
		s.extra = append(s.extra, strings.TrimRight(line, "\r\n"))
		s.mu.Unlock()
	}
}

func (s *scriptServer) setConn(c net.Conn) {
	s.mu.Lock()
	s.conn = c
	s.mu.Unlock()
}

// play runs one step; false ends the dialog.
func (s *scriptServer) play(i int, st step, conn *net.Conn, r **bufio.Reader) bool {
	if st.expect != "" {
		line, err := (*r).ReadString('\n')
		if err != nil {
			s.failf("step %d: want %q, read error %v", i, st.expect, err)
			return false
		}
		line = strings.TrimSuffix(line, "\r\n")
		if !matchCommand(st.expect, line) {
			s.failf("step %d: want %q, got %q", i, st.expect, line)
			return false
		}
	}
	for j, chunk := range s.chunks[i] {
		if j > 0 {
			time.Sleep(chunkPause)
		}
		if _, err := (*conn).Write(chunk); err != nil {
			return false // the client may hang up mid-answer on purpose
		}
	}
	return s.after(st.then, conn, r)
}

func (s *scriptServer) after(a action, conn *net.Conn, r **bufio.Reader) bool {
	switch a {
	case hangUp:
		(*conn).Close()
		return false
	case goSilent:
		<-s.stop
		return false
	case refuseTLS:
		tls.Server(*conn, &tls.Config{Certificates: []tls.Certificate{testCert().cert}}).Handshake()
		return false
	case startTLS:
		if (*r).Buffered() > 0 {
			s.failf("client sent data before the TLS handshake")
		}
		tc := tls.Server(*conn, &tls.Config{Certificates: []tls.Certificate{testCert().cert}})
		if err := tc.Handshake(); err != nil {
			s.failf("tls handshake: %v", err)
			return false
		}
		*conn, *r = tc, bufio.NewReader(tc)
		s.setConn(tc)
	}
	return true
}

func matchCommand(want, got string) bool {
	if p, ok := strings.CutSuffix(want, "*"); ok {
		return strings.HasPrefix(got, p)
	}
	return want == got
}

// hello is the start of most scripts: a greeting and a CAPA answer listing
// caps (a -ERR answer to CAPA when caps is nil).
func hello(caps ...string) []step {
	capa := step{expect: "CAPA", send: []string{"-ERR unknown command\r\n"}}
	if caps != nil {
		capa.send = []string{"+OK capability list follows\r\n" + strings.Join(caps, "\r\n") + "\r\n.\r\n"}
	}
	return []step{{send: []string{"+OK POP3 ready\r\n"}}, capa}
}

func script(parts ...[]step) []step {
	var all []step
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

func say(expect string, send ...string) step { return step{expect: expect, send: send} }

// dialScript dials s in plain text with opts (a 5 s timeout when nil).
func dialScript(t testing.TB, s *scriptServer, opts *Options) (*Client, error) {
	t.Helper()
	return dialScriptTLS(t, s, plainText, nil, opts)
}

// dialScriptTLS dials s as mode says, trusting what cfg trusts.
func dialScriptTLS(t testing.TB, s *scriptServer, mode tlsMode, cfg *tls.Config, opts *Options) (*Client, error) {
	t.Helper()
	if opts == nil {
		opts = &Options{Timeout: 5 * time.Second}
	}
	c, err := dial(context.Background(), s.addr(), mode, cfg, opts)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// testCertificate is a self-signed certificate for 127.0.0.1.
type testCertificate struct {
	cert tls.Certificate
	pool *x509.CertPool
}

var testCert = sync.OnceValue(func() testCertificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pop3 test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return testCertificate{
		cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		pool: pool,
	}
})

// dialogCase is one scripted dialog. The client connects as tls says, with
// tlsConfig and opts (see dialScriptTLS); when dialErr is set that must
// fail and check is not run.
type dialogCase struct {
	name      string
	tls       tlsMode
	tlsConfig *tls.Config
	opts      *Options
	script    []step
	check     func(t *testing.T, c *Client, s *scriptServer)
	dialErr   func(t *testing.T, err error, elapsed time.Duration, s *scriptServer)
}

func TestScriptedDialogs(t *testing.T) {
	var cases []dialogCase
	cases = append(cases, dialCases()...)
	cases = append(cases, retrCases()...)
	cases = append(cases, listingCases()...)
	cases = append(cases, authCases()...)
	cases = append(cases, endCases()...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := serveScript(t, tc.script)
			start := time.Now()
			c, err := dialScriptTLS(t, s, tc.tls, tc.tlsConfig, tc.opts)
			if tc.dialErr != nil {
				if err == nil {
					t.Fatal("Dial succeeded, want an error")
				}
				tc.dialErr(t, err, time.Since(start), s)
				return
			}
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			tc.check(t, c, s)
		})
	}
}
