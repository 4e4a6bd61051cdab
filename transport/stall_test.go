package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/config"
)

// The bound each stall test sets, and how much longer than it a failure
// may take. A bound that ran out more than once (the old idle timeout
// re-armed on every read took four) fails the test.
const (
	testBound = time.Second
	slack     = time.Second
	fast      = 3 * time.Second // a failure that waits for no bound
)

// scripted accepts loopback connections and runs serve on each. When serve
// returns, the connection stays open, and silent, until the test ends.
func scripted(t *testing.T, serve func(c net.Conn, r *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range open {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			go serve(c, bufio.NewReader(c))
		}
	}()
	return ln.Addr().String()
}

func silent(net.Conn, *bufio.Reader) {}

// tlsThen runs implicit TLS as the server, then serve inside it.
func tlsThen(cert *tls.Certificate, serve func(net.Conn, *bufio.Reader)) func(net.Conn, *bufio.Reader) {
	return func(c net.Conn, _ *bufio.Reader) {
		tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{*cert}})
		if tc.Handshake() != nil {
			return
		}
		serve(tc, bufio.NewReader(tc))
	}
}

// answer is a scripted server's reply to one command; false goes silent.
type answer func(w io.Writer, tag string) bool

func say(format string) answer {
	return func(w io.Writer, tag string) bool {
		if strings.Contains(format, "%s") {
			fmt.Fprintf(w, format, tag)
		} else {
			io.WriteString(w, format)
		}
		return true
	}
}

// imapUntil greets, then answers IMAP commands by their name until one it
// has no answer for: then it goes silent. A UID command is named "UID".
func imapUntil(greeting string, answers map[string]answer) func(net.Conn, *bufio.Reader) {
	return imapScript{greeting: greeting, answers: answers}.serve
}

// imapScript is a scripted IMAP server; with cert, it answers STARTTLS and
// goes on inside TLS.
type imapScript struct {
	greeting string
	answers  map[string]answer
	cert     *tls.Certificate
}

func (s imapScript) serve(c net.Conn, r *bufio.Reader) {
	io.WriteString(c, s.greeting)
	for {
		line, err := r.ReadString('\n')
		f := strings.Fields(line)
		if err != nil || len(f) < 2 {
			return
		}
		name := strings.ToUpper(f[1])
		if name == "STARTTLS" && s.cert != nil {
			fmt.Fprintf(c, "%s OK begin TLS\r\n", f[0])
			c = tls.Server(c, &tls.Config{Certificates: []tls.Certificate{*s.cert}})
			r = bufio.NewReader(c)
			continue
		}
		a, ok := s.answers[name]
		if !ok || !a(c, f[0]) {
			return
		}
	}
}

// pop3Until greets, then answers POP3 commands until one it has no answer
// for: then it goes silent.
func pop3Until(answers map[string]string) func(net.Conn, *bufio.Reader) {
	return func(c net.Conn, r *bufio.Reader) {
		io.WriteString(c, "+OK ready\r\n")
		for {
			line, err := r.ReadString('\n')
			f := strings.Fields(line)
			if err != nil || len(f) == 0 {
				return
			}
			a, ok := answers[strings.ToUpper(f[0])]
			if !ok {
				return
			}
			io.WriteString(c, a)
		}
	}
}

// fullListener is a port whose accept queue is full: a connect to it
// waits for an answer that never comes.
func fullListener(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := syscall.Getsockname(fd)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	filler, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { filler.Close() })
	return addr
}

const imapGreeting = "* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ready\r\n"

var imapLogin = map[string]answer{
	"LOGIN":        say("%s OK logged in\r\n"),
	"AUTHENTICATE": say("%s OK logged in\r\n"),
	"CAPABILITY":   say("* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN\r\n%s OK\r\n"),
}

// checkStall: err is a temporary stall of op ("" for any stall), and it
// came after bound, once.
func checkStall(t *testing.T, err error, op string, took, bound time.Duration) {
	t.Helper()
	var se *StallError
	if !Stalled(err) || Classify(err) != Temporary || op != "" && (!errors.As(err, &se) || !strings.HasPrefix(se.Op, op)) {
		t.Fatalf("%v (%s); want a temporary stall in %q", err, Classify(err), op)
	}
	if took < bound-10*time.Millisecond || took > bound+slack {
		t.Errorf("failed after %v; want the %v bound, once", took, bound)
	}
}

// TestStepBounds: a server that stalls in a step of opening the session
// costs that step's bound, once, for each TLS mode of both protocols; a
// greeting that never comes on a plain connection says the port may want
// implicit TLS.
func TestStepBounds(t *testing.T) {
	cert, caFile := selfSigned(t)
	stlsCaps := map[string]string{"CAPA": "+OK\r\nSTLS\r\nUSER\r\n.\r\n"}
	tests := []struct {
		name, mode string
		serve      func(net.Conn, *bufio.Reader) // nil: a port that accepts no connection
		op, hint   string
	}{
		{"imap/connect", config.TLSNone, nil, "", ""},
		{"imap/greeting", config.TLSNone, silent, "greeting from", "tls: implicit"},
		{"imap/greeting in TLS", config.TLSImplicit, tlsThen(cert, silent), "greeting from", ""},
		{"imap/TLS handshake", config.TLSImplicit, silent, "TLS handshake with", ""},
		{"imap/greeting before STARTTLS", config.TLSStartTLS, silent, "greeting from", "tls: implicit"},
		{"imap/STARTTLS", config.TLSStartTLS, imapUntil(imapGreeting, nil), "STARTTLS with", ""},
		{"imap/STARTTLS handshake", config.TLSStartTLS,
			imapUntil(imapGreeting, map[string]answer{"STARTTLS": say("%s OK begin TLS\r\n")}), "TLS handshake with", ""},
		{"imap/login", config.TLSNone, imapUntil(imapGreeting, nil), "login to", ""},
		{"imap/login capabilities", config.TLSNone, imapUntil("* OK ready\r\n", nil), "login to", ""},
		{"pop3/connect", config.TLSNone, nil, "", ""},
		{"pop3/greeting", config.TLSNone, silent, "greeting from", "tls: implicit"},
		{"pop3/greeting in TLS", config.TLSImplicit, tlsThen(cert, silent), "greeting from", ""},
		{"pop3/TLS handshake", config.TLSImplicit, silent, "TLS handshake with", ""},
		{"pop3/STLS", config.TLSStartTLS, pop3Until(stlsCaps), "STLS with", ""},
		{"pop3/STLS handshake", config.TLSStartTLS,
			pop3Until(map[string]string{"CAPA": stlsCaps["CAPA"], "STLS": "+OK begin TLS\r\n"}), "STLS with", ""},
		{"pop3/login", config.TLSNone, pop3Until(map[string]string{"CAPA": "+OK\r\nUSER\r\n.\r\n", "USER": "+OK\r\n"}), "login to", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := ""
			if tc.serve == nil {
				addr = fullListener(t)
			} else {
				addr = scripted(t, tc.serve)
			}
			ep := endpointFor(addr, tc.mode, "", "pw-Secr3t")
			ep.CAFile = caFile
			bound := DefaultTimeout
			if tc.op == "login to" {
				ep.LoginTimeout, bound = testBound, testBound
			} else {
				ep.Timeout, bound = testBound, testBound
			}
			start := time.Now()
			err := dial(t.Context(), ep, strings.HasPrefix(tc.name, "pop3"))
			t.Log(err)
			checkStall(t, err, tc.op, time.Since(start), bound)
			if tc.hint != "" && !strings.Contains(err.Error(), tc.hint) || tc.hint == "" && strings.Contains(err.Error(), "hint:") {
				t.Errorf("%v; want the hint %q", err, tc.hint)
			}
			if strings.Contains(err.Error(), "Secr3t") {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}

// dial opens and closes a session with either protocol.
func dial(ctx context.Context, ep Endpoint, pop bool) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if pop {
		c, err := DialPOP3(ctx, ep, POP3Options{})
		if err == nil {
			c.Close()
		}
		return err
	}
	c, err := DialIMAP(ctx, ep, IMAPOptions{})
	if err == nil {
		c.Close()
	}
	return err
}

// literal is the message a scripted FETCH answers with.
var literal = strings.Repeat("0123456789abcdef", 4096)

// fetchAnswer answers UID FETCH with literal, sent in parts with pause
// between them; a negative pause sends half of it and goes silent.
func fetchAnswer(parts int, pause time.Duration) answer {
	return func(w io.Writer, tag string) bool {
		fmt.Fprintf(w, "* 1 FETCH (UID 1 BODY[] {%d}\r\n", len(literal))
		if pause < 0 {
			io.WriteString(w, literal[:len(literal)/2])
			return false
		}
		n := len(literal) / parts
		for i := 0; i < parts; i++ {
			time.Sleep(pause)
			io.WriteString(w, literal[i*n:min((i+1)*n, len(literal))])
		}
		io.WriteString(w, literal[parts*n:])
		fmt.Fprintf(w, ")\r\n%s OK done\r\n", tag)
		return true
	}
}

func fetchBody(c *imapclient.Client) (string, error) {
	cmd := c.Fetch(imap.UIDSetNum(1), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	defer cmd.Close()
	var body []byte
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		for item := msg.Next(); item != nil; item = msg.Next() {
			if b, ok := item.(imapclient.FetchItemDataBodySection); ok {
				var err error
				if body, err = io.ReadAll(b.Literal); err != nil {
					return "", err
				}
			}
		}
	}
	return string(body), cmd.Close()
}

// TestIMAPIdleBound: once logged in, a server that stays silent while an
// answer is awaited costs the idle bound, once: before the first response
// to a command, between two of its responses (where go-imap sets no
// deadline), or in a literal. A literal that keeps coming, however slowly,
// is fine, and so is a connection that awaits nothing.
func TestIMAPIdleBound(t *testing.T) {
	cert, caFile := selfSigned(t)
	selectOK := say("* 2 EXISTS\r\n* OK [UIDVALIDITY 1] ok\r\n%s OK [READ-ONLY] done\r\n")
	tests := []struct {
		name, mode string
		answers    map[string]answer
		run        func(c *imapclient.Client) error
		stall      bool
	}{
		{"no answer", config.TLSNone, nil, examine, true},
		{"no answer in TLS", config.TLSImplicit, nil, examine, true},
		{"no answer after STARTTLS", config.TLSStartTLS, nil, examine, true},
		{"between responses", config.TLSNone, map[string]answer{"EXAMINE": func(w io.Writer, _ string) bool {
			io.WriteString(w, "* 2 EXISTS\r\n")
			return false
		}}, examine, true},
		{"in a response", config.TLSNone, map[string]answer{"EXAMINE": func(w io.Writer, _ string) bool {
			io.WriteString(w, "* 2 EXI")
			return false
		}}, examine, true},
		{"in a literal", config.TLSNone, map[string]answer{"EXAMINE": selectOK, "UID": fetchAnswer(0, -1)}, fetch, true},
		{"a slow literal", config.TLSImplicit, map[string]answer{"EXAMINE": selectOK, "UID": fetchAnswer(8, testBound/2)}, fetch, false},
		{"an idle connection", config.TLSNone, map[string]answer{"NOOP": say("%s OK\r\n")}, func(c *imapclient.Client) error {
			time.Sleep(2 * testBound)
			return c.Noop().Wait()
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			answers := map[string]answer{}
			for k, v := range imapLogin {
				answers[k] = v
			}
			for k, v := range tc.answers {
				answers[k] = v
			}
			serve := imapScript{imapGreeting, answers, cert}.serve
			if tc.mode == config.TLSImplicit {
				serve = tlsThen(cert, serve)
			}
			ep := endpointFor(scripted(t, serve), tc.mode, "", "pw")
			ep.CAFile, ep.IdleTimeout = caFile, testBound
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			c, err := DialIMAP(ctx, ep, IMAPOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			err = IMAPError(c, tc.run(c))
			if !tc.stall {
				if err != nil {
					t.Fatalf("after %v: %v", time.Since(start), err)
				}
				return
			}
			checkStall(t, err, ep.Address(), time.Since(start), testBound)
		})
	}
}

func examine(c *imapclient.Client) error {
	_, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	return err
}

func fetch(c *imapclient.Client) error {
	if err := examine(c); err != nil {
		return err
	}
	body, err := fetchBody(c)
	if err == nil && body != literal {
		err = fmt.Errorf("the body came back with %d bytes, want %d", len(body), len(literal))
	}
	return err
}

// TestPOP3IdleBound: once logged in, a POP3 server that stays silent while
// an answer is awaited costs the idle bound, once; a message that keeps
// coming, however slowly, is fine.
func TestPOP3IdleBound(t *testing.T) {
	login := map[string]string{"CAPA": "+OK\r\nUSER\r\n.\r\n", "USER": "+OK\r\n", "PASS": "+OK\r\n"}
	tests := []struct {
		name  string
		retr  func(w io.Writer) bool
		stall bool
	}{
		{"no answer", func(io.Writer) bool { return false }, true},
		{"in a message", func(w io.Writer) bool {
			io.WriteString(w, "+OK\r\n"+literal[:len(literal)/2])
			return false
		}, true},
		{"a slow message", func(w io.Writer) bool {
			io.WriteString(w, "+OK\r\n")
			n := len(literal) / 8
			for i := 0; i < 8; i++ {
				time.Sleep(testBound / 2)
				io.WriteString(w, literal[i*n:(i+1)*n])
			}
			io.WriteString(w, "\r\n.\r\n")
			return true
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := scripted(t, func(c net.Conn, r *bufio.Reader) {
				pop3Until(login)(c, r) // returns at RETR
				if tc.retr(c) {
					r.ReadString('\n')
				}
			})
			ep := endpointFor(addr, config.TLSNone, "", "pw")
			ep.IdleTimeout = testBound
			c, err := DialPOP3(t.Context(), ep, POP3Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			var body strings.Builder
			_, err = c.Retr(t.Context(), 1, &body)
			if !tc.stall {
				if err != nil || body.String() != literal+"\r\n" {
					t.Fatalf("after %v: %v, %d bytes", time.Since(start), err, body.Len())
				}
				return
			}
			checkStall(t, err, "", time.Since(start), testBound)
		})
	}
}

// TestStallSticks: once a read has timed out, every later read and write
// fails at once with the same stall.
func TestStallSticks(t *testing.T) {
	t.Parallel()
	client, server := net.Pipe()
	defer server.Close()
	c := newIdleConn(client, client, "pipe", 200*time.Millisecond)
	c.start()
	c.SetReadDeadline(time.Now().Add(time.Hour)) // as go-imap does while it awaits a response
	_, first := c.Read(make([]byte, 1))
	start := time.Now()
	_, again := c.Read(make([]byte, 1))
	_, write := c.Write([]byte("T1 NOOP\r\n"))
	if !Stalled(first) || again != first || write != first {
		t.Fatalf("first read %v, then %v and %v; want one stall", first, again, write)
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("the reads after the stall took %v", d)
	}
}
