package serve_test

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/serve"
)

const bigSize = 25 << 20

// bigSource is an archive with one 25 MB message among a few others.
func bigSource(t *testing.T) (*source, corpus.Message) {
	msgs := corpus.Generate(corpus.Options{Seed: 13, Count: 10, Big: bigSize})
	return newSource(t, msgs), msgs[len(msgs)-1]
}

// heapPeak samples the heap until stopped and returns the highest value
// above the heap when it started.
type heapPeak struct {
	base, peak uint64
	stop       chan struct{}
	done       chan struct{}
}

func watchHeap() *heapPeak {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h := &heapPeak{base: ms.HeapAlloc, peak: ms.HeapAlloc, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				h.peak = max(h.peak, ms.HeapAlloc)
			}
		}
	}()
	return h
}

// growth stops watching and returns the peak growth in MiB.
func (h *heapPeak) growth() float64 {
	close(h.stop)
	<-h.done
	return float64(h.peak-h.base) / (1 << 20)
}

// TestStreamsLargeMessage: a 25 MB message goes to the client through
// the verified stream without being held: the heap of the process (server
// and a streaming client) grows by a few MiB, for the whole message, for
// a partial fetch, for its structure and for a search of its text.
func TestStreamsLargeMessage(t *testing.T) {
	src, big := bigSource(t)
	sv := startServe(t, src.root, serve.Options{Accounts: []string{src.user}})
	c := sv.dial(t, src.user)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	uids, err := c.UIDSearch(&imap.SearchCriteria{Larger: bigSize / 2}, nil).Wait()
	if err != nil || len(uids.AllUIDs()) != 1 {
		t.Fatalf("search LARGER: %v, %v", uids, err)
	}
	uid := imap.UIDSetNum(uids.AllUIDs()[0])
	for _, tt := range []struct {
		what string
		opts *imap.FetchOptions
		want func(n int64, sum [32]byte) bool
	}{
		{"BODY[]", &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}},
			func(n int64, sum [32]byte) bool { return sum == sha256.Sum256(big.Raw) }},
		{"BODY[2] and BODYSTRUCTURE", &imap.FetchOptions{BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
			BodySection: []*imap.FetchItemBodySection{{Part: []int{2}, Peek: true}}},
			func(n int64, _ [32]byte) bool { return n > bigSize*9/10 }},
		{"BODY[]<20000000.1000000>", &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{
			{Peek: true, Partial: &imap.SectionPartial{Offset: 20e6, Size: 1e6}}}},
			func(n int64, sum [32]byte) bool { return sum == sha256.Sum256(big.Raw[20e6:21e6]) }},
	} {
		h := watchHeap()
		n, sum := streamFetch(t, c, uid, tt.opts)
		if g := h.growth(); g > 16 {
			t.Errorf("%s: the heap grew by %.1f MiB", tt.what, g)
		} else {
			t.Logf("%s: %d bytes, heap growth %.1f MiB", tt.what, n, g)
		}
		if !tt.want(n, sum) {
			t.Errorf("%s: %d bytes, wrong content", tt.what, n)
		}
	}
	h := watchHeap()
	res, err := c.UIDSearch(&imap.SearchCriteria{Body: []string{"no such text anywhere"}}, nil).Wait()
	if g := h.growth(); err != nil || len(res.AllUIDs()) != 0 || g > 16 {
		t.Errorf("SEARCH BODY over the big message: %v, %v, heap growth %.1f MiB", res, err, g)
	}

	// The whole account, folder after folder.
	h = watchHeap()
	var total int64
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range list {
		sel, err := c.Select(l.Mailbox, nil).Wait()
		if err != nil || sel.NumMessages == 0 {
			continue
		}
		n, _ := streamFetch(t, c, imap.UIDSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true,
			BodyStructure: &imap.FetchItemBodyStructure{Extended: true}, Envelope: true,
			BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
		total += n
	}
	if g := h.growth(); g > 16 || total < bigSize {
		t.Errorf("the whole account: %d bytes, heap growth %.1f MiB", total, g)
	} else {
		t.Logf("the whole account: %d bytes, heap growth %.1f MiB", total, g)
	}
}

// streamFetch fetches one message and reads its body sections as they
// come, returning their total size and the SHA-256 of the last.
func streamFetch(t *testing.T, c *imapclient.Client, uid imap.UIDSet, opts *imap.FetchOptions) (int64, [32]byte) {
	t.Helper()
	cmd := c.Fetch(uid, opts)
	defer cmd.Close()
	var total int64
	var sum [32]byte
	for m := cmd.Next(); m != nil; m = cmd.Next() {
		for item := m.Next(); item != nil; item = m.Next() {
			if b, ok := item.(imapclient.FetchItemDataBodySection); ok {
				h := sha256.New()
				n, err := io.Copy(h, b.Literal)
				if err != nil {
					t.Fatal(err)
				}
				total += n
				copy(sum[:], h.Sum(nil))
			}
		}
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	return total, sum
}

// TestHostileClients: clients that send commands before logging in,
// literals that claim gigabytes, 10,000 pipelined commands, or leave in
// the middle of a 25 MB FETCH. The server answers each as it should,
// keeps serving another client throughout, and its heap stays bounded.
func TestHostileClients(t *testing.T) {
	src, _ := bigSource(t)
	sv := startServe(t, src.root, serve.Options{Accounts: []string{src.user}})
	good := sv.dial(t, src.user)
	if _, err := good.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	stillServing := func(when string) {
		t.Helper()
		msgs, err := good.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{UID: true, RFC822Size: true}).Collect()
		if err != nil || len(msgs) != 1 {
			t.Fatalf("%s: the other client is not served: %v", when, err)
		}
	}
	h := watchHeap()

	t.Run("unauthenticated", func(t *testing.T) {
		r := dialRaw(t, sv.addr)
		for _, cmd := range []string{"FETCH 1 BODY[]", "SELECT INBOX", "LIST \"\" *", "STATUS INBOX (MESSAGES)", "APPEND INBOX {3+}\r\nabc"} {
			if _, st := r.do(cmd); !strings.HasPrefix(st, "BAD") {
				t.Errorf("%s before login: %s", cmd, st)
			}
		}
		resp := sendRaw(t, r, "x1 XYZZY\r\n")
		if !strings.Contains(resp, "BYE") {
			t.Errorf("an unknown command before login: %q", resp)
		}
		stillServing("after commands before login")
	})

	t.Run("literals claiming gigabytes", func(t *testing.T) {
		r := loginRaw(t, sv.addr, src.user, password)
		if _, st := r.do("APPEND INBOX {4000000000}"); !strings.HasPrefix(st, "NO [TOOBIG]") {
			t.Errorf("APPEND of 4 GB: %s", st)
		}
		if _, st := r.do("NOOP"); st != "OK NOOP completed" {
			t.Errorf("NOOP after it: %s", st)
		}
		for _, cmd := range []string{"x2 LOGIN {4000000000}\r\n", "x3 SELECT {5000000000+}\r\n" + strings.Repeat("A", 1<<20),
			"x4 SEARCH TEXT {9999999999}\r\n"} {
			r := dialRaw(t, sv.addr)
			if cmd[1] != '2' {
				r = loginRaw(t, sv.addr, src.user, password)
			}
			resp := sendRaw(t, r, cmd)
			if !strings.Contains(resp, " NO ") && !strings.Contains(resp, " BAD ") && resp != "" {
				t.Errorf("%.30q: %q", cmd, resp)
			}
		}
		stillServing("after the literals")
	})

	t.Run("10,000 pipelined commands", func(t *testing.T) {
		r := loginRaw(t, sv.addr, src.user, password)
		r.do("EXAMINE INBOX")
		var cmds strings.Builder
		const n = 10000
		for i := range n {
			fmt.Fprintf(&cmds, "p%d FETCH %d (UID FLAGS RFC822.SIZE)\r\n", i, i%10+1)
		}
		go r.c.Write([]byte(cmds.String()))
		ok := 0
		r.c.SetReadDeadline(time.Now().Add(2 * time.Minute))
		for ok < n {
			line, err := r.r.ReadString('\n')
			if err != nil {
				t.Fatalf("after %d answers: %v", ok, err)
			}
			if strings.HasPrefix(line, "p") && strings.Contains(line, " OK ") {
				ok++
			}
		}
		stillServing("after 10,000 commands")
		// The same, without reading any answer: the server waits for the
		// client to read, others are served meanwhile.
		q := loginRaw(t, sv.addr, src.user, password)
		q.do("EXAMINE INBOX")
		var fetches strings.Builder
		for i := range n {
			fmt.Fprintf(&fetches, "q%d FETCH 1:* (BODY.PEEK[])\r\n", i)
		}
		go q.c.Write([]byte(fetches.String()))
		time.Sleep(500 * time.Millisecond)
		stillServing("while a client does not read its answers")
		q.c.Close()
	})

	t.Run("disconnect mid-FETCH", func(t *testing.T) {
		for range 5 {
			r := loginRaw(t, sv.addr, src.user, password)
			r.do("EXAMINE INBOX")
			fmt.Fprintf(r.c, "d1 FETCH 1:* (BODY.PEEK[])\r\n")
			if _, err := io.CopyN(io.Discard, r.r, 1<<20); err != nil {
				t.Fatal(err)
			}
			r.c.Close()
		}
		stillServing("after clients left in the middle of a FETCH")
	})

	if g := h.growth(); g > 64 {
		t.Errorf("the heap grew by %.1f MiB", g)
	} else {
		t.Logf("heap growth through all of it: %.1f MiB", g)
	}
	waitSessions(t, sv, 1)
}

// sendRaw writes bytes as they are and returns what the server answers
// within a second, or until it closes the connection.
func sendRaw(t *testing.T, r *raw, data string) string {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.c.Write([]byte(data))
	}()
	r.c.SetReadDeadline(time.Now().Add(time.Second))
	var b strings.Builder
	io.Copy(&b, bufio.NewReader(r.r))
	r.c.Close()
	wg.Wait()
	return b.String()
}

// waitSessions waits until the server has at most n sessions open,
// counting the log's opened and closed sessions.
func waitSessions(t *testing.T, sv *served, n int) {
	t.Helper()
	var open atomic.Int64
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		logs := sv.log.String()
		open.Store(int64(strings.Count(logs, "session opened") - strings.Count(logs, "session closed")))
		if open.Load() <= int64(n) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("%d sessions still open, want at most %d", open.Load(), n)
}
