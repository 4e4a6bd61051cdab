package backup_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
	"github.com/mailkeep/mailkeep/transport"
)

// proxy forwards loopback connections to target. The first connection is
// cut (or, with stall, silenced) after limit bytes from the server; later
// connections pass untouched.
type proxy struct {
	ln     net.Listener
	target string
	limit  int64
	stall  bool
	conns  atomic.Int32
	cut    atomic.Bool // the first connection reached limit and was cut
}

func startProxy(t *testing.T, target string, limit int64, stall bool) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, limit: limit, stall: stall}
	t.Cleanup(func() { ln.Close() })
	go p.serve()
	return p
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.handle(c, p.conns.Add(1) == 1)
	}
}

func (p *proxy) handle(c net.Conn, faulty bool) {
	defer c.Close()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer s.Close()
	go io.Copy(s, c)
	if !faulty {
		io.Copy(c, s)
		return
	}
	if _, err := io.CopyN(c, s, p.limit); err == nil {
		p.cut.Store(true)
	}
	if p.stall {
		time.Sleep(10 * time.Second)
	}
}

func dialVia(addr, user, password string, idle time.Duration) transport.IMAPDialer {
	host, port := splitAddr(addr)
	ep := transport.Endpoint{Host: host, Port: port, TLS: config.TLSNone, Username: user, IdleTimeout: idle,
		Secret: func(context.Context) (string, error) { return password, nil }}
	return func(ctx context.Context) (*imapclient.Client, error) {
		return transport.DialIMAP(ctx, ep, transport.IMAPOptions{})
	}
}

func backupOnce(ctx context.Context, root string, dial transport.IMAPDialer) (backup.Result, error) {
	return backupBatch(ctx, root, dial, 16)
}

func backupBatch(ctx context.Context, root string, dial transport.IMAPDialer, batch int) (backup.Result, error) {
	a, err := archive.OpenWriter(ctx, root, "alice", nil)
	if err != nil {
		return backup.Result{}, err
	}
	defer a.Close()
	return backup.IMAP(ctx, a, backup.Options{Dial: dial, Settings: backup.Settings{BatchMessages: batch}, Connections: 2})
}

// checkComplete: the archive holds each of the server's messages exactly
// once and verifies clean.
func checkComplete(t *testing.T, root string, want int) {
	t.Helper()
	ctx := context.Background()
	a, err := archive.OpenWriter(ctx, root, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	rep, err := a.Verify(ctx, archive.VerifyOptions{})
	if err != nil || len(rep.Problems) > 0 || rep.Messages != want {
		t.Fatalf("archive: %d messages (want %d), problems %v, err %v", rep.Messages, want, rep.Problems, err)
	}
}

// checkNothingBroken: whatever a failed run published decodes and matches
// the catalog. Leftovers may remain: temp files, and complete files whose
// rows could not be written (the next run adopts them).
func checkNothingBroken(t *testing.T, root string) {
	t.Helper()
	ctx := context.Background()
	a, err := archive.OpenWriter(ctx, root, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	rep, err := a.Verify(ctx, archive.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Problems {
		if p.Kind != archive.ProblemStaleTemp && p.Kind != archive.ProblemOrphanFile {
			t.Errorf("after a failed run: %s", p)
		}
	}
}

func loadCorpus(t *testing.T, srv *dovecottest.Server, count int) int {
	t.Helper()
	msgs := corpus.Generate(corpus.Options{Seed: 11, Count: count})
	if err := corpus.Load(t.Context(), srv.Dial(t, "alice"), msgs); err != nil {
		t.Fatal(err)
	}
	return len(msgs)
}

// TestConnectionCut cuts the connection after N bytes at points spread over
// a whole backup: the run fails or retries cleanly, publishes nothing
// broken, and the next run completes with every message exactly once.
func TestConnectionCut(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	n := loadCorpus(t, srv, 60)
	direct := dialer(srv, "alice")
	src := srv.Dial(t, "alice")
	for _, limit := range []int64{0, 40, 300, 2_000, 20_000, 100_000, 400_000, 900_000} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			root := t.TempDir()
			p := startProxy(t, srv.IMAPAddr, limit, false)
			// One message per batch: whatever is read is published at once,
			// so a message cut short would be archived if it passed as whole.
			res, err := backupBatch(t.Context(), root, dialVia(p.ln.Addr().String(), "alice", srv.Password("alice"), 0), 1)
			t.Logf("through the cut: %s %+v err=%v", res.Outcome, res.Stats, err)
			if !p.cut.Load() {
				t.Fatalf("the proxy never cut the connection at %d bytes", limit)
			}
			checkCutOutcome(t, limit, res, err, p.conns.Load(), n)
			checkNothingBroken(t, root)
			if _, err := backupOnce(t.Context(), root, direct); err != nil {
				t.Fatalf("clean run: %v", err)
			}
			checkComplete(t, root, n)
			compareWithArchive(t, src, root)
		})
	}
}

// checkCutOutcome: a cut before the login completes fails the run with a
// temporary error (the agent retries it) and archives nothing; a later cut
// costs the folder one retry on a new connection, and the run completes.
func checkCutOutcome(t *testing.T, limit int64, res backup.Result, err error, conns int32, n int) {
	t.Helper()
	if limit < 2_000 {
		if res.Outcome != archive.OutcomeFailed || res.Stats.NewMessages != 0 || transport.Classify(err) != transport.Temporary {
			t.Fatalf("cut during login: %s, %d messages, %v; want failed, none, a temporary error",
				res.Outcome, res.Stats.NewMessages, err)
		}
		return
	}
	if res.Outcome != archive.OutcomeOK || err != nil || res.Stats.NewMessages != n || conns < 2 {
		t.Fatalf("cut mid-run: %s, %d of %d messages, %d connections, %v; want ok with all, on a retry",
			res.Outcome, res.Stats.NewMessages, n, conns, err)
	}
}

// TestConnectionStall silences the server mid-run: the idle timeout gives
// the connection up, the folder is retried on a new connection, and the
// run completes.
func TestConnectionStall(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	n := loadCorpus(t, srv, 60)
	root := t.TempDir()
	p := startProxy(t, srv.IMAPAddr, 150_000, true)
	start := time.Now()
	res, err := backupOnce(t.Context(), root, dialVia(p.ln.Addr().String(), "alice", srv.Password("alice"), 300*time.Millisecond))
	if err != nil || res.Outcome != archive.OutcomeOK {
		t.Fatalf("stalled run: %s %+v %v", res.Outcome, res.Stats, err)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("a stall of the server held the run for %v", d)
	}
	checkComplete(t, root, n)
}

// TestDiskFull backs up onto a tmpfs too small for the mail: a clear error,
// nothing broken published; with room again, the next run completes.
func TestDiskFull(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	n := loadCorpus(t, srv, 120)
	root := t.TempDir()
	mount(t, root, "size=600k")
	_, err := backupOnce(t.Context(), root, dialer(srv, "alice"))
	if err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("backup onto a full disk: %v, want a 'no space left' error", err)
	}
	checkNothingBroken(t, root)
	mount(t, root, "remount,size=64m")
	if _, err := backupOnce(t.Context(), root, dialer(srv, "alice")); err != nil {
		t.Fatal(err)
	}
	checkComplete(t, root, n)
}

func mount(t *testing.T, dir, opts string) {
	t.Helper()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("mount tmpfs (the disk-full test needs root): %v: %s", err, out)
	}
	if !strings.HasPrefix(opts, "remount") {
		t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	}
}

// hostileNames are folder names a server may send: each must become its
// own folder inside the archive.
var hostileNames = []string{"..", "../../escape", "a/../../b", "cur", "new", "tmp", ".mk", "a.b", "%41",
	"~home", "tab\there", strings.Repeat("é", 300), "INBOX/..", "Entwürfe/.."}

// TestHostileFolderNames backs up folders with names that try to escape
// the archive or collide with Maildir internals, from Dovecot with a
// layout that accepts them.
func TestHostileFolderNames(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{MailLocation: dovecottest.AnyNameLocation})
	c := srv.Dial(t, "alice")
	var msgs []corpus.Message
	for i, name := range hostileNames {
		if err := c.Create(name, nil).Wait(); err != nil {
			t.Logf("Dovecot refuses %q: %v", name, err)
			continue
		}
		raw := fmt.Sprintf("Subject: %d\r\n\r\nin %q\r\n", i, name)
		msgs = append(msgs, corpus.Message{Folder: name, Raw: []byte(raw), Date: time.Unix(1700000000, 0)})
	}
	if len(msgs) < 8 {
		t.Fatalf("Dovecot accepted only %d of the hostile names", len(msgs))
	}
	appendRaw(t, c, msgs)
	root := t.TempDir()
	sentinel := filepath.Join(filepath.Dir(root), "escape")
	res := runBackup(t, t.Context(), root, dialer(srv, "alice"))
	if res.Stats.NewMessages != len(msgs) {
		t.Fatalf("%+v, want %d messages", res.Stats, len(msgs))
	}
	if _, err := os.Stat(sentinel); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("something was written outside the archive: %s", sentinel)
	}
	checkInside(t, root)
	checkComplete(t, root, len(msgs))
}

func appendRaw(t *testing.T, c *imapclient.Client, msgs []corpus.Message) {
	t.Helper()
	for _, m := range msgs {
		cmd := c.Append(m.Folder, int64(len(m.Raw)), nil)
		cmd.Write(m.Raw)
		cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			t.Fatalf("append to %q: %v", m.Folder, err)
		}
	}
}

// checkInside: every file under the archive root lies under the account.
func checkInside(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(filepath.Join(root, "alice"), path)
		if path != root && strings.HasPrefix(rel, "..") {
			t.Errorf("outside the account: %s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
