package backup_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/internal/gmailfake"
)

// labelled is a mailbox of five labels of three messages each, on a
// server without X-GM-EXT-1: every message shows in its label and in All
// Mail, and each folder's bodies are downloaded.
func labelled() []*gmailfake.Message {
	var out []*gmailfake.Message
	for i := range 15 {
		out = append(out, &gmailfake.Message{Raw: fmt.Sprintf("Message-ID: <%d@l>\r\n\r\nbody %d\r\n", i, i),
			Date: time.Date(2024, 2, 1, i, 0, 0, 0, time.UTC), Labels: []string{fmt.Sprintf("L%d", i/3)}})
	}
	return out
}

// totalSink records the total a run announces.
type totalSink struct {
	mu    sync.Mutex
	total int
	done  int
}

func (s *totalSink) Start(n int, _ int64) { s.mu.Lock(); s.total = n; s.mu.Unlock() }
func (s *totalSink) Folder(string)        {}
func (s *totalSink) Message(int64)        { s.mu.Lock(); s.done++; s.mu.Unlock() }

// TestThrottledRunResumes: a server that throttles in the middle of a
// first backup ends the run partial with one error and no folder begun
// after it; what was fetched is kept, and the time of the next attempt is
// the run's start plus the back-off. The next run fetches only the rest,
// announcing how much that is, and the archive then holds every message
// once per folder, each content once on disk.
func TestThrottledRunResumes(t *testing.T) {
	for _, conns := range []int{1, 4} {
		t.Run(fmt.Sprintf("%d connections", conns), func(t *testing.T) {
			srv := gmailfake.StartWith(t, labelled(), gmailfake.Options{Generic: true, ListStatus: true})
			var fired atomic.Bool
			srv.Reply(func(c gmailfake.Command) string {
				if c.Body && c.N == 3 && fired.CompareAndSwap(false, true) {
					return "NO [ALERT] Account exceeded command or bandwidth limits. (Failure)"
				}
				return ""
			})
			root := t.TempDir()
			now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			set := backup.Settings{Now: func() time.Time { return now }, ThrottleBackoff: 3 * time.Hour}
			res, err := backupConns(t, root, srv, set, conns, nil)
			if !errors.Is(err, backup.ErrPartial) || res.Outcome != archive.OutcomePartial || res.Stats.Errors != 1 {
				t.Fatalf("throttled run: %s, %+v, %v; want partial with one error", res.Outcome, res.Stats, err)
			}
			if until, ok := backup.RetryAt(err); !ok || !until.Equal(now.Add(3*time.Hour)) || !res.Throttle.Until.Equal(until) {
				t.Errorf("next attempt %v (%v), want %v", until, ok, now.Add(3*time.Hour))
			}
			first := res.Stats.NewMessages
			if conns == 1 && (first != 18 || srv.Count("EXAMINE") != 3) {
				t.Errorf("%d messages in %d folders opened before the throttle; want All Mail's 15 and L0's 3, and L1 opened last",
					first, srv.Count("EXAMINE"))
			}
			checkNothingBroken(t, root)

			sink := &totalSink{}
			res, err = backupConns(t, root, srv, backup.Settings{}, conns, sink)
			if err != nil || res.Stats.NewMessages != 30-first || sink.total != 30-first {
				t.Fatalf("next run: %+v, %v, announced %d; want the %d messages left", res.Stats, err, sink.total, 30-first)
			}
			if !res.Throttle.Until.IsZero() {
				t.Errorf("an ok run still throttled until %v", res.Throttle.Until)
			}
			rows := archivedRows(t, root)
			n, contents := 0, map[[32]byte]bool{}
			for _, msgs := range rows {
				n += len(msgs)
				for _, m := range msgs {
					contents[m.SHA256] = true
				}
			}
			if n != 30 || len(contents) != 15 {
				t.Errorf("%d rows of %d contents, want 30 of 15", n, len(contents))
			}
			checkLinkedOnce(t, root, rows)
			checkNothingBroken(t, root)
		})
	}
}

// checkLinkedOnce checks that each content of the archive is one file
// with a name in each folder that holds it.
func checkLinkedOnce(t *testing.T, root string, rows map[string][]archive.Message) {
	t.Helper()
	names := map[[32]byte]int{}
	for _, msgs := range rows {
		for _, m := range msgs {
			names[m.SHA256]++
		}
	}
	for folder, msgs := range rows {
		for _, m := range msgs {
			if n := links(t, fileOf(t, root, folder, m)); n != uint64(names[m.SHA256]) {
				t.Errorf("%s %s: %d names, want %d", folder, m.Key, n, names[m.SHA256])
			}
		}
	}
}

func backupConns(t *testing.T, root string, srv *gmailfake.Server, set backup.Settings, conns int, p *totalSink) (backup.Result, error) {
	t.Helper()
	ctx := context.Background()
	a, err := archive.OpenWriter(ctx, root, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if p != nil {
		set.Progress = p
	}
	return backup.IMAP(ctx, a, backup.Options{Dial: dialVia(srv.Addr, srv.User, srv.Password, 0), Connections: conns, Settings: set})
}
