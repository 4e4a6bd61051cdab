package agent

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/internal/gmailfake"
	"github.com/mailkeep/mailkeep/schedule"
)

// throttleReplies are the answers with which providers ask a client to
// slow down, as their servers send them, and the delay each suggests.
var throttleReplies = []struct {
	name, reply string
	suggested   time.Duration
}{
	{"OVERQUOTA", "NO [OVERQUOTA] Quota exceeded (Failure)", 0},
	{"LIMIT", "NO [LIMIT] Too many commands at once", 0},
	{"UNAVAILABLE", "NO [UNAVAILABLE] Temporary System Error", 0},
	{"Gmail", "NO [ALERT] Account exceeded command or bandwidth limits. (Failure)", 0},
	{"Microsoft", "NO Request is throttled. Suggested Backoff Time: 192175 milliseconds", 192175 * time.Millisecond},
}

// TestAgentThrottled replays each throttling reply through a scripted
// server, with the real backup job, in a bubble of fake time. The server
// answers the second fetch of bodies with it: the run ends partial with
// the first folder kept; the next attempt comes after the delay the
// server suggested, else after throttle_backoff (45m), and not once
// before, though the schedule (every 10m) comes due meanwhile; status,
// metrics and the catalog say so; then the next run completes the
// archive.
func TestAgentThrottled(t *testing.T) {
	for _, tc := range throttleReplies {
		t.Run(tc.name, func(t *testing.T) {
			srv := gmailfake.Start(t, throttleMailbox())
			var fired atomic.Bool
			srv.Reply(func(c gmailfake.Command) string {
				if c.Name == "UID FETCH" && c.N == 4 && fired.CompareAndSwap(false, true) {
					return tc.reply
				}
				return ""
			})
			cfg := load(t, throttleConfig(t, srv))
			backoff := cmpOr(tc.suggested, 45*time.Minute)
			synctest.Test(t, func(t *testing.T) { checkThrottled(t, cfg, srv, backoff) })
		})
	}
}

func cmpOr(a, b time.Duration) time.Duration {
	if a != 0 {
		return a
	}
	return b
}

// throttleMailbox has three labels of two messages each: with All Mail,
// each message shows in two folders.
func throttleMailbox() []*gmailfake.Message {
	var out []*gmailfake.Message
	for i := range 6 {
		out = append(out, &gmailfake.Message{Raw: fmt.Sprintf("Message-ID: <%d@t>\r\n\r\n%d\r\n", i, i),
			Date: time.Date(2024, 1, 1, i, 0, 0, 0, time.UTC), Labels: []string{fmt.Sprintf("L%d", i/2)}})
	}
	return out
}

// throttleConfig is the account of the test, without the search index:
// its follower reads messages through zstd decoders shared with the rest
// of the process, whose goroutines live outside the test's bubble.
func throttleConfig(t *testing.T, srv *gmailfake.Server) string {
	t.Helper()
	dir := t.TempDir()
	host, port, _ := strings.Cut(srv.Addr, ":")
	text := fmt.Sprintf(`archive: %s
accounts:
  - name: gm
    protocol: imap
    host: %s
    port: %s
    tls: none
    username: %s
    password: %s
    connections: 1
    schedule: "@every 10m"
    throttle_backoff: 45m
    index: false
agent:
  stop_timeout: 5s
`, filepath.Join(dir, "archive"), host, port, srv.User, srv.Password)
	path := filepath.Join(dir, "mailkeep.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func checkThrottled(t *testing.T, cfg *config.Config, srv *gmailfake.Server, backoff time.Duration) {
	start := time.Now()
	a, err := New(cfg, slog.New(slog.DiscardHandler), Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	m := a.metrics
	until := start.Add(10*time.Minute + backoff)

	time.Sleep(11 * time.Minute) // the first run, due at 10m, is over
	runs := accountRuns(t, cfg.Archive)
	if len(runs) != 1 || runs[0].Outcome != archive.OutcomePartial || runs[0].NewMessages != 8 || runs[0].Errors != 1 {
		t.Fatalf("after the throttled run: %+v; want one partial run that kept All Mail and the first label, with one error", runs)
	}
	st := StatusOf(ctx, cfg, &cfg.Accounts[0], time.Now())
	if st.ThrottledUntil == nil || !st.ThrottledUntil.Equal(until) || !st.NextRun.Equal(until) {
		t.Errorf("status: throttled until %v, next run %v; want both %v", st.ThrottledUntil, st.NextRun, until)
	}
	if got := testutil.ToFloat64(m.throttled.WithLabelValues("gm")); got != unixSeconds(until) {
		t.Errorf("throttled_until = %v, want %v", got, unixSeconds(until))
	}

	time.Sleep(time.Until(until) - time.Second)
	if n := srv.Count("LOGIN"); n != 1 {
		t.Errorf("%d logins before the back-off ended, want the first run's only", n)
	}
	due := int((backoff - time.Second) / (10 * time.Minute)) // due times inside the back-off
	if got := testutil.ToFloat64(m.skipped.WithLabelValues("gm", schedule.SkipThrottled)); int(got) != due {
		t.Errorf("skipped_runs_total{throttled} = %v, want %d", got, due)
	}

	time.Sleep(2 * time.Second)
	runs = accountRuns(t, cfg.Archive)
	if len(runs) != 2 || !runs[0].Started.Equal(until) || runs[0].Outcome != archive.OutcomeOK || runs[0].NewMessages != 4 {
		t.Fatalf("after the back-off: %+v; want a second run at %v that archived the other two labels", runs, until)
	}
	if got := testutil.ToFloat64(m.throttled.WithLabelValues("gm")); got != 0 {
		t.Errorf("throttled_until after an ok run = %v", got)
	}
	if st := StatusOf(ctx, cfg, &cfg.Accounts[0], time.Now()); st.ThrottledUntil != nil {
		t.Errorf("status still throttled until %v", st.ThrottledUntil)
	}
}

// accountRuns reads the account's runs, newest first.
func accountRuns(t *testing.T, root string) []archive.Run {
	t.Helper()
	snap, err := archive.OpenSnapshot(context.Background(), root, "gm")
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	runs, err := snap.Runs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return runs
}
