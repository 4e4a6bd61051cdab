package backup_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
	"github.com/mailkeep/mailkeep/internal/pop3fake"
	"github.com/mailkeep/mailkeep/pop3"
	"github.com/mailkeep/mailkeep/transport"
)

// The idle bound the stall tests set, and how much longer than their
// bounds a run may take: logins, catalog work, Dovecot.
const (
	idleBound  = time.Second
	stallSlack = 2 * time.Second
)

// stallProxy relays connections to target. On each, once the client has
// sent a line that stall selects, the server's next after bytes are passed
// on and then nothing more: the server goes silent, mid-response or
// mid-literal, and the connection stays open.
type stallProxy struct {
	addr  string
	stall func(line string) bool
	after int64
	conns atomic.Int32
}

func startStallProxy(t *testing.T, target string, after int64, stall func(line string) bool) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{addr: ln.Addr().String(), stall: stall, after: after}
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
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			open = append(open, c, s)
			mu.Unlock()
			p.conns.Add(1)
			go p.relay(c, s)
		}
	}()
	return p
}

func (p *stallProxy) relay(client, server net.Conn) {
	var stalled atomic.Bool
	go func() {
		r := bufio.NewReader(client)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if p.stall(line) {
				stalled.Store(true) // before the server can answer
			}
			server.Write([]byte(line))
		}
	}()
	left := p.after
	buf := make([]byte, 4096)
	for {
		n, err := server.Read(buf)
		if stalled.Load() {
			n = int(min(int64(n), left))
			left -= int64(n)
		}
		client.Write(buf[:n])
		if err != nil || stalled.Load() && left == 0 {
			return // silent from here on; the connection stays open
		}
	}
}

func stallDialer(addr, password string) transport.IMAPDialer {
	host, port := splitAddr(addr)
	ep := transport.Endpoint{Host: host, Port: port, TLS: config.TLSNone, Username: "alice", IdleTimeout: idleBound,
		Secret: func(context.Context) (string, error) { return password, nil }}
	return func(ctx context.Context) (*imapclient.Client, error) {
		return transport.DialIMAP(ctx, ep, transport.IMAPOptions{})
	}
}

// TestEveryConnectionStalls: a server that goes silent on every
// connection, after a command or inside a literal, costs a folder's
// attempt and its retry one idle bound each; then the run gives the
// server up instead of paying the same for every other folder. It fails
// with a temporary error when nothing was archived, and is partial when
// something was.
func TestEveryConnectionStalls(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	loadCorpus(t, srv, 60)
	var examined atomic.Int32
	tests := []struct {
		name    string
		after   int64
		stall   func(line string) bool
		partial bool
	}{
		{"after a command", 0, func(line string) bool { return strings.Contains(line, "EXAMINE") }, false},
		{"in a literal", 200, func(line string) bool { return strings.Contains(line, "BODY.PEEK[]") }, false},
		{"after the first folder", 0, func(line string) bool {
			return strings.Contains(line, "EXAMINE") && examined.Add(1) > 1
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := startStallProxy(t, srv.IMAPAddr, tc.after, tc.stall)
			a, err := archive.OpenWriter(t.Context(), t.TempDir(), "alice", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			start := time.Now()
			res, err := backup.IMAP(t.Context(), a, backup.Options{Dial: stallDialer(p.addr, srv.Password("alice")), Connections: 1})
			took := time.Since(start)
			t.Logf("%v, %d connections: %s %+v: %v", took, p.conns.Load(), res.Outcome, res.Stats, err)
			if !strings.Contains(errText(res, err), "folders not tried") {
				t.Errorf("the run did not give the server up: %v", err)
			}
			switch {
			case tc.partial && (res.Outcome != archive.OutcomePartial || res.Stats.NewMessages == 0):
				t.Errorf("%s with %d messages; want partial with the first folder's", res.Outcome, res.Stats.NewMessages)
			case !tc.partial && (res.Outcome != archive.OutcomeFailed || transport.Classify(err) != transport.Temporary):
				t.Errorf("%s, %v (%s); want failed, temporary", res.Outcome, err, transport.Classify(err))
			}
			if took < 2*idleBound || took > 2*idleBound+stallSlack {
				t.Errorf("the run took %v; want two idle bounds of %v (the folder and its retry)", took, idleBound)
			}
		})
	}
}

// errText is the run's error and its failures.
func errText(res backup.Result, err error) string {
	text := fmt.Sprint(err)
	for _, f := range res.Failures {
		text += "\n" + f.Error()
	}
	return text
}

// TestPOP3EverySessionStalls: a POP3 server that goes silent after a few
// messages, and at once on the retry, costs each session one idle bound;
// the messages of the first are kept and the run is partial.
func TestPOP3EverySessionStalls(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	_, msgs := inboxCorpus(31, 20, 0)
	load(t, srv, "bob", msgs)
	var retrs atomic.Int32
	proxy := pop3fake.StartProxy(t, srv.POP3Addr, pop3fake.ProxyOptions{Hold: func(line string) bool {
		return strings.HasPrefix(line, "RETR ") && retrs.Add(1) > 5
	}})
	host, port := splitAddr(proxy.Addr)
	ep := transport.Endpoint{Host: host, Port: port, TLS: config.TLSNone, Username: "bob", IdleTimeout: idleBound,
		Secret: func(context.Context) (string, error) { return srv.Password("bob"), nil }}
	opts := backup.POP3Options{Dial: func(ctx context.Context) (*pop3.Client, error) {
		return transport.DialPOP3(ctx, ep, transport.POP3Options{})
	}}
	start := time.Now()
	res, err := runPOP3(t, t.TempDir(), opts)
	took := time.Since(start)
	if res.Outcome != archive.OutcomePartial || res.Stats.NewMessages != 5 || !transport.Stalled(res.Failures[0]) {
		t.Errorf("%s with %d messages, %v; want partial with 5, failed by a stall", res.Outcome, res.Stats.NewMessages, err)
	}
	if took < 2*idleBound || took > 2*idleBound+stallSlack {
		t.Errorf("the run took %v; want two idle bounds of %v (the session and its retry)", took, idleBound)
	}
	if n := len(serverBodies(t, srv, "bob")); n != len(msgs) {
		t.Errorf("the server holds %d messages, want %d", n, len(msgs))
	}
}
