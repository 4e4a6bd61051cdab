package serve_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
	"github.com/mailkeep/mailkeep/internal/logtest"
	"github.com/mailkeep/mailkeep/serve"
	"github.com/mailkeep/mailkeep/transport"
)

const password = "serve-secret"

// source is a Dovecot account filled with a corpus, backed up into an
// archive.
type source struct {
	dovecot *dovecottest.Server
	user    string
	root    string // the archive directory
	msgs    []corpus.Message
}

// newSource starts a Dovecot, loads msgs into alice's account and backs
// it up into a new archive.
func newSource(t testing.TB, msgs []corpus.Message) *source {
	t.Helper()
	s := &source{dovecot: dovecottest.Start(t, dovecottest.Options{}), user: "alice", root: t.TempDir(), msgs: msgs}
	c := s.dovecot.Dial(t, s.user)
	if err := corpus.Load(context.Background(), c, msgs); err != nil {
		t.Fatal(err)
	}
	s.backup(t)
	return s
}

// backup runs one backup of the account into the archive.
func (s *source) backup(t testing.TB) backup.Result {
	t.Helper()
	a, err := archive.OpenWriter(context.Background(), s.root, s.user, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	res, err := backup.IMAP(context.Background(), a, backup.Options{Dial: s.dialer()})
	if err != nil {
		t.Fatalf("backup: %v (%+v)", err, res)
	}
	return res
}

func (s *source) dialer() func(context.Context) (*imapclient.Client, error) {
	host, port, _ := net.SplitHostPort(s.dovecot.IMAPAddr)
	p, _ := strconv.Atoi(port)
	ep := transport.Endpoint{Host: host, Port: p, TLS: config.TLSNone, Username: s.user,
		Secret: func(context.Context) (string, error) { return s.dovecot.Password(s.user), nil }}
	return func(ctx context.Context) (*imapclient.Client, error) {
		return transport.DialIMAP(ctx, ep, transport.IMAPOptions{})
	}
}

// served is a running serve.Server.
type served struct {
	addr string
	log  *logtest.Buffer
}

// startServe serves the accounts of root on a free loopback port until
// the test ends.
func startServe(t testing.TB, root string, opts serve.Options) *served {
	t.Helper()
	logs := &logtest.Buffer{}
	opts.Root = root
	if opts.Password == "" {
		opts.Password = password
	}
	if opts.LoginDelay == 0 {
		opts.LoginDelay = 50 * time.Millisecond
	}
	opts.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := serve.New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := serve.Listen(ctx, "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if t.Failed() {
			t.Logf("serve log:\n%s", tail(logs.String(), 40))
		}
	})
	return &served{addr: ln.Addr().String(), log: logs}
}

// dial logs in to the served account with imapclient.
func (s *served) dial(t testing.TB, user string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(s.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, password).Wait(); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return c
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// raw is a client that sends command lines as written and reads the
// responses as sent: each response a string, literals inline.
type raw struct {
	t   testing.TB
	c   net.Conn
	r   *bufio.Reader
	tag int
}

func dialRaw(t testing.TB, addr string) *raw {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &raw{t: t, c: c, r: bufio.NewReader(c)}
	if _, err := r.response(); err != nil { // the greeting
		t.Fatal(err)
	}
	return r
}

// login dials addr and logs in.
func loginRaw(t testing.TB, addr, user, pass string) *raw {
	r := dialRaw(t, addr)
	if _, status := r.do(fmt.Sprintf("LOGIN %s %s", user, pass)); !strings.HasPrefix(status, "OK") {
		t.Fatalf("login %s: %s", user, status)
	}
	return r
}

// do sends one command and returns its untagged responses and the tagged
// status (without the tag).
func (r *raw) do(cmd string) (untagged []string, status string) {
	r.t.Helper()
	r.tag++
	tag := fmt.Sprintf("t%d", r.tag)
	r.c.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := fmt.Fprintf(r.c, "%s %s\r\n", tag, cmd); err != nil {
		r.t.Fatalf("%s: %v", cmd, err)
	}
	for {
		resp, err := r.response()
		if err != nil {
			r.t.Fatalf("%s: %v", cmd, err)
		}
		if rest, ok := strings.CutPrefix(resp, tag+" "); ok {
			return untagged, strings.TrimSuffix(rest, "\r\n")
		}
		untagged = append(untagged, resp)
	}
}

// response reads one response, with the literals in it.
func (r *raw) response() (string, error) {
	var b strings.Builder
	for {
		line, err := r.r.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			return b.String(), err
		}
		n, ok := literalSize(line)
		if !ok {
			return b.String(), nil
		}
		if _, err := io.CopyN(&b, r.r, n); err != nil {
			return b.String(), err
		}
	}
}

func literalSize(line string) (int64, bool) {
	line, ok := strings.CutSuffix(line, "}\r\n")
	if !ok {
		return 0, false
	}
	i := strings.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(line[i+1:], "+"), 10, 64)
	return n, err == nil
}
