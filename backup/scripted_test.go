package backup_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/transport"
)

// scriptedIMAP is a minimal IMAP server with two folders: "Good" serves
// two ordinary messages, "Evil" answers FETCH with evil (like Good when
// evil is nil). With sizeRefused it announces LIST-STATUS and STATUS=SIZE,
// and refuses a LIST that asks for SIZE.
type scriptedIMAP struct {
	evil        func(w *bufio.Writer)
	sizeRefused bool
	mu          sync.Mutex
	lists       []string // the LIST commands it was sent
}

const goodMessage = "Subject: good\r\n\r\nfine\r\n"

func (s *scriptedIMAP) serve(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.session(c)
		}
	}()
	return ln.Addr().String()
}

func (s *scriptedIMAP) session(c net.Conn) {
	defer c.Close()
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	caps := "IMAP4rev1"
	if s.sizeRefused {
		caps += " LIST-EXTENDED LIST-STATUS STATUS=SIZE"
	}
	fmt.Fprintf(w, "* OK [CAPABILITY %s] ready\r\n", caps)
	w.Flush()
	folder := ""
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			return
		}
		tag, cmd := f[0], strings.ToUpper(strings.Join(f[1:min(3, len(f))], " "))
		switch {
		case strings.HasPrefix(cmd, "LOGIN"):
			fmt.Fprintf(w, "%s OK logged in\r\n", tag)
		case strings.HasPrefix(cmd, "CAPABILITY"):
			fmt.Fprintf(w, "* CAPABILITY %s\r\n%s OK\r\n", caps, tag)
		case strings.HasPrefix(cmd, "LIST"):
			s.mu.Lock()
			s.lists = append(s.lists, strings.TrimSpace(line))
			s.mu.Unlock()
			if s.sizeRefused && strings.Contains(line, "SIZE") {
				fmt.Fprintf(w, "%s BAD no SIZE here\r\n", tag)
				break
			}
			fmt.Fprintf(w, "* LIST () \"/\" Good\r\n* LIST () \"/\" Evil\r\n%s OK\r\n", tag)
		case strings.HasPrefix(cmd, "EXAMINE"):
			folder = strings.Trim(f[2], "\"")
			fmt.Fprintf(w, "* 2 EXISTS\r\n* OK [UIDVALIDITY 1]\r\n* OK [UIDNEXT 3]\r\n%s OK [READ-ONLY]\r\n", tag)
		case cmd == "UID SEARCH":
			fmt.Fprintf(w, "* SEARCH 1 2\r\n%s OK\r\n", tag)
		case cmd == "UID FETCH" && folder == "Evil" && s.evil != nil && strings.Contains(line, "BODY.PEEK"):
			s.evil(w)
			w.Flush()
			return
		case cmd == "UID FETCH":
			fetchGood(w, tag, strings.Contains(line, "BODY.PEEK"))
		case strings.HasPrefix(cmd, "LOGOUT"):
			fmt.Fprintf(w, "* BYE\r\n%s OK\r\n", tag)
			w.Flush()
			return
		default:
			fmt.Fprintf(w, "%s BAD unknown\r\n", tag)
		}
		w.Flush()
	}
}

func fetchGood(w *bufio.Writer, tag string, body bool) {
	for uid := 1; uid <= 2; uid++ {
		if body {
			fmt.Fprintf(w, "* %d FETCH (UID %d FLAGS (\\Seen) INTERNALDATE \"01-Jan-2024 10:00:00 +0000\" BODY[] {%d}\r\n%s)\r\n",
				uid, uid, len(goodMessage), goodMessage)
		} else {
			fmt.Fprintf(w, "* %d FETCH (UID %d FLAGS (\\Seen))\r\n", uid, uid)
		}
	}
	fmt.Fprintf(w, "%s OK\r\n", tag)
}

// TestListSizeRefused: a server that announces STATUS=SIZE but refuses a
// LIST that asks for it is listed again without SIZE, and backed up.
func TestListSizeRefused(t *testing.T) {
	srv := &scriptedIMAP{sizeRefused: true}
	addr := srv.serve(t)
	res, err := backupStall(t.Context(), t.TempDir(), dialVia(addr, "alice", "pw", 0), time.Minute)
	if err != nil || res.Stats.NewMessages != 4 {
		t.Fatalf("outcome %s %+v, err %v; want 4 messages", res.Outcome, res.Stats, err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.lists) != 2 || !strings.Contains(srv.lists[0], "SIZE") || strings.Contains(srv.lists[1], "SIZE") {
		t.Errorf("LIST commands %q, want one with SIZE, then one without", srv.lists)
	}
}

// TestHostileServer: a server that claims a 10 GB literal, or answers with
// a malformed response, fails its folder (a partial run) without growing
// memory or publishing anything broken; the other folder is archived.
func TestHostileServer(t *testing.T) {
	evils := map[string]func(w *bufio.Writer){
		"10GB literal": func(w *bufio.Writer) {
			fmt.Fprint(w, "* 1 FETCH (UID 1 BODY[] {10737418240}\r\n")
			w.Write(make([]byte, 256<<10))
		},
		"malformed": func(w *bufio.Writer) {
			fmt.Fprint(w, "* 1 FETCH (UID 1 FLAGS (\\Seen BODY[] {5}\r\nhello\r\n* 2 FETCH ((((\r\n")
		},
		"garbage": func(w *bufio.Writer) { fmt.Fprint(w, "\x00\x01\x02 not imap at all\r\n") },
		// Endless responses that carry no message: only the stall watchdog ends this.
		"talks forever": func(w *bufio.Writer) {
			for {
				fmt.Fprint(w, "* 1 FETCH (FLAGS (\\Seen))\r\n")
				if w.Flush() != nil {
					return
				}
			}
		},
	}
	for name, evil := range evils {
		t.Run(name, func(t *testing.T) {
			addr := (&scriptedIMAP{evil: evil}).serve(t)
			root := t.TempDir()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			res, err := backupStall(t.Context(), root, dialVia(addr, "alice", "pw", 0), 300*time.Millisecond)
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if !errors.Is(err, backup.ErrPartial) || res.Stats.NewMessages != 2 || res.Outcome != archive.OutcomePartial {
				t.Fatalf("outcome %s %+v, err %v; want partial with Good's 2 messages", res.Outcome, res.Stats, err)
			}
			if grown := int64(after.HeapInuse) - int64(before.HeapInuse); grown > 32<<20 {
				t.Errorf("heap grew by %d MiB", grown>>20)
			}
			checkNothingBroken(t, root)
			checkFolderCount(t, root, "Evil", 0)
		})
	}
}

func backupStall(ctx context.Context, root string, dial transport.IMAPDialer, stall time.Duration) (backup.Result, error) {
	a, err := archive.OpenWriter(ctx, root, "alice", nil)
	if err != nil {
		return backup.Result{}, err
	}
	defer a.Close()
	return backup.IMAP(ctx, a, backup.Options{Dial: dial, StallTimeout: stall})
}

func checkFolderCount(t *testing.T, root, folder string, want int) {
	t.Helper()
	a, err := archive.OpenWriter(context.Background(), root, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	fs, _ := a.Catalog.Folders(context.Background())
	for _, f := range fs {
		if f.Name != folder {
			continue
		}
		msgs, _ := a.Catalog.FolderMessages(context.Background(), f.ID)
		if len(msgs) != want {
			t.Errorf("%s holds %d messages, want %d", folder, len(msgs), want)
		}
	}
}
