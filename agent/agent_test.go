package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/internal/logtest"
	"github.com/mailkeep/mailkeep/oauth"
	"github.com/mailkeep/mailkeep/pop3"
	"github.com/mailkeep/mailkeep/progress"
	"github.com/mailkeep/mailkeep/schedule"
	"github.com/mailkeep/mailkeep/transport"
)

// These tests run the agent in-process with a fake job; the end-to-end
// tests of "mailkeep run" through the built binary and a real Dovecot are
// in cmd/mailkeep.

// fakeJob records the accounts it ran and answers with what result says.
type fakeJob struct {
	mu     sync.Mutex
	calls  map[string]int
	result func(name string, n int) (backup.Result, error)
}

func (f *fakeJob) run(ctx context.Context, _ string, a *config.Account, _ *slog.Logger, _ progress.Sink) (backup.Result, error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[a.Name]++
	n := f.calls[a.Name]
	f.mu.Unlock()
	return f.result(a.Name, n)
}

func (f *fakeJob) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[name]
}

func okResult(string, int) (backup.Result, error) {
	return backup.Result{RunID: 1, Outcome: archive.OutcomeOK, Stats: archive.RunStats{NewMessages: 2, NewBytes: 10}}, nil
}

// writeConfig writes a configuration with the named accounts on schedule.
func writeConfig(t *testing.T, dir, schedule, agentYAML string, names ...string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "archive: %s\naccounts:\n", filepath.Join(dir, "archive"))
	for _, n := range names {
		fmt.Fprintf(&b, "  - {name: %s, protocol: imap, host: 127.0.0.1, port: 1, tls: none, username: u, password_env: NOPE, schedule: %q}\n", n, schedule)
	}
	b.WriteString("agent:\n  stop_timeout: 5s\n" + agentYAML)
	path := filepath.Join(dir, "mailkeep.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func load(t *testing.T, path string) *config.Config {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// logCount is how many times s is in the log so far.
func logCount(l *logtest.Buffer, s string) int { return strings.Count(l.String(), s) }

type running struct {
	a      *Agent
	log    *logtest.Buffer
	hup    chan os.Signal
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfg *config.Config, job Job) *running {
	t.Helper()
	r := &running{log: &logtest.Buffer{}, hup: make(chan os.Signal, 1), done: make(chan error, 1)}
	a, err := New(cfg, slog.New(slog.NewTextHandler(r.log, nil)), Options{Version: "test", Job: job,
		Schedule: schedule.Options{Retry: schedule.Retry{Base: 10 * time.Millisecond, Max: 20 * time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	r.a = a
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- a.Run(ctx, r.hup) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the agent did not stop")
		return nil
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAgentRunsAndCounts(t *testing.T) {
	dir := t.TempDir()
	job := &fakeJob{result: okResult}
	r := start(t, load(t, writeConfig(t, dir, "@every 1s", "", "alice", "bob")), job.run)
	waitFor(t, "two runs of each", func() bool { return job.count("alice") >= 2 && job.count("bob") >= 2 })
	r.stop(t)
	m := r.a.metrics
	if got := testutil.ToFloat64(m.runs.WithLabelValues("alice", "ok")); got < 2 {
		t.Errorf("runs_total{alice, ok} = %v", got)
	}
	if got := testutil.ToFloat64(m.messages.WithLabelValues("bob")); got != 2*float64(job.count("bob")) {
		t.Errorf("archived_messages_total{bob} = %v after %d runs", got, job.count("bob"))
	}
	if testutil.ToFloat64(m.lastOutcome.WithLabelValues("alice", "ok")) != 1 {
		t.Error("last_run_outcome{alice, ok} is not 1")
	}
}

func TestAgentRetries(t *testing.T) {
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	tests := []struct {
		name  string
		err   error
		calls int // per due run
		log   string
	}{
		{"temporary failures are retried", fmt.Errorf("fetch: %w", reset), 3, "no attempts left"},
		{"permanent failures are not", fmt.Errorf("login: %w", transport.ErrAuth), 1, "run failed"},
		{"partial runs are not", fmt.Errorf("%w: 1 failures, first: %w", backup.ErrPartial, reset), 1, "run incomplete"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			job := &fakeJob{result: func(string, int) (backup.Result, error) {
				return backup.Result{RunID: 1, Outcome: archive.OutcomeFailed}, tc.err
			}}
			r := start(t, load(t, writeConfig(t, t.TempDir(), "@every 1h", "", "alice")), job.run)
			// @every 1h: the run due at start is the only one.
			r.a.sched.Reload(schedule.Settings{Accounts: []schedule.Account{{Name: "alice", Schedule: mustParse(t, "@every 1s")}}})
			waitFor(t, tc.log, func() bool { return logCount(r.log, tc.log) >= 1 })
			r.stop(t)
			if got := job.count("alice"); got%tc.calls != 0 || got == 0 {
				t.Errorf("%d attempts, want a multiple of %d\n%s", got, tc.calls, r.log)
			}
		})
	}
}

func mustParse(t *testing.T, s string) schedule.Schedule {
	t.Helper()
	sc, err := schedule.Parse(s, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestAgentReload(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, "@every 1s", "", "alice")
	good, _ := os.ReadFile(path)
	job := &fakeJob{result: okResult}
	r := start(t, load(t, path), job.run)
	waitFor(t, "alice's first run", func() bool { return job.count("alice") >= 1 })
	broken := []struct{ name, content, log string }{
		{"yaml", string(good) + "  colour: blue\n", "colour"},
		{"schedule", strings.Replace(string(good), "@every 1s", "61 * * * *", 1), "61 * * * *"},
		{"missing", "", "no such file"},
	}
	for i, b := range broken {
		if b.name == "missing" {
			os.Remove(path)
		} else {
			os.WriteFile(path, []byte(b.content), 0o600)
		}
		r.hup <- syscall.SIGHUP
		waitFor(t, "a refused reload", func() bool { return logCount(r.log, "configuration not reloaded") == i+1 })
		if !strings.Contains(r.log.String(), b.log) {
			t.Errorf("%s: the log does not say why (%q)", b.name, b.log)
		}
		n := job.count("alice")
		waitFor(t, "a run on the old configuration", func() bool { return job.count("alice") > n })
	}
	if got := testutil.ToFloat64(r.a.metrics.reloads.WithLabelValues("failed")); got != 3 {
		t.Errorf("failed reloads %v, want 3", got)
	}
	writeConfig(t, dir, "@every 1s", "", "alice", "bob")
	r.hup <- syscall.SIGHUP
	waitFor(t, "bob's first run", func() bool { return job.count("bob") >= 1 })
	if !strings.Contains(r.log.String(), "configuration reloaded") {
		t.Error("the reload is not logged")
	}
}

// TestAgentStopTimeout: a job that ignores cancellation keeps the agent
// no longer than agent.stop_timeout, and the agent says so.
func TestAgentStopTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	started := make(chan struct{}, 1)
	job := func(ctx context.Context, _ string, _ *config.Account, _ *slog.Logger, _ progress.Sink) (backup.Result, error) {
		started <- struct{}{}
		<-release
		return backup.Result{}, ctx.Err()
	}
	cfg := load(t, writeConfig(t, t.TempDir(), "@every 1s", "", "alice"))
	cfg.Agent.StopTimeout = config.Duration(100 * time.Millisecond)
	r := start(t, cfg, job)
	<-started
	if err := r.stop(t); !errors.Is(err, schedule.ErrStopTimeout) {
		t.Fatalf("stop: %v, want the stop timeout", err)
	}
}

func TestClassify(t *testing.T) {
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	tests := []struct {
		name string
		err  error
		want schedule.Class
	}{
		{"busy", fmt.Errorf("open: %w", archive.ErrBusy), schedule.Busy},
		{"partial, even if its first failure was temporary",
			fmt.Errorf("%w: 2 failures, first: %w", backup.ErrPartial, reset), schedule.Incomplete},
		{"connection reset", fmt.Errorf("fetch: %w", reset), schedule.Temporary},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, schedule.Temporary},
		{"IMAP login refused", fmt.Errorf("login: %w", transport.ErrAuth), schedule.Permanent},
		{"POP3 login refused", fmt.Errorf("%w: %w", pop3.ErrAuth, io.ErrUnexpectedEOF), schedule.Permanent},
		{"POP3 mailbox in use", &pop3.ServerError{Cmd: "PASS", Code: "IN-USE", Msg: "[IN-USE] locked"}, schedule.Temporary},
		{"POP3 refusal", &pop3.ServerError{Cmd: "UIDL", Msg: "no"}, schedule.Permanent},
		{"POP3 login delay", &pop3.ServerError{Cmd: "PASS", Code: "LOGIN-DELAY", Msg: "[LOGIN-DELAY] wait"}, schedule.Throttled},
		{"IMAP limit", &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeLimit}, schedule.Throttled},
		{"marked permanent, though a lost connection", transport.MarkPermanent(io.EOF), schedule.Permanent},
		{"unknown folder", errors.New("select \"Nope\": NO Mailbox doesn't exist"), schedule.Permanent},
		{"needs login", &oauth.NeedsLoginError{Account: "work", Reason: "refresh token refused"}, schedule.Permanent},
		{"needs login after a refused token", fmt.Errorf("dial: %w", &oauth.NeedsLoginError{Account: "work",
			Reason: "refused twice", Err: transport.ErrAuth}), schedule.Permanent},
	}
	for _, tc := range tests {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("%s: class %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestHealthRule: /healthz and status judge every account alike, from its
// catalog, whether or not an agent ran it.
func TestHealthRule(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, "@hourly", "", "fresh", "stale", "failing", "never")
	text, _ := os.ReadFile(path)
	text = append(text, "  - {name: manual, protocol: imap, host: 127.0.0.1, tls: none, username: u, password_env: NOPE}\n"...)
	text = bytes.Replace(text, []byte("agent:\n"), []byte("agent:\n  jitter: 0s\n"), 1)
	// Accounts must come before the agent section in the file's order.
	os.WriteFile(path, reorder(text), 0o600)
	cfg := load(t, path)
	now := time.Now()
	root := cfg.Archive
	recordRun(t, root, "fresh", now.Add(-time.Hour), archive.OutcomeOK)
	recordRun(t, root, "stale", now.Add(-10*time.Hour), archive.OutcomeOK)
	recordRun(t, root, "stale", now.Add(-time.Hour), archive.OutcomeFailed)
	recordRun(t, root, "failing", now.Add(-5*time.Hour), archive.OutcomeFailed)
	recordRun(t, root, "manual", now.Add(-100*time.Hour), archive.OutcomeOK)

	want := []string{"failing: no success in", "stale: last success"}
	check := func(what string, got []string) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %q, want %q", what, got, want)
		}
		for i := range want {
			if !strings.HasPrefix(got[i], want[i]) {
				t.Errorf("%s: %q, want %q…", what, got[i], want[i])
			}
		}
	}
	check("Unhealthy", Unhealthy(context.Background(), cfg, now))
	var stale []string
	for _, s := range Statuses(context.Background(), cfg, pointers(cfg), now) {
		if s.Stale != "" {
			stale = append(stale, s.Account+": "+s.Stale)
		}
	}
	slices.Sort(stale)
	check("Statuses", stale)

	m := newMetrics("test")
	srv := httptest.NewServer(m.handler(slog.New(slog.DiscardHandler), func() *config.Config { return cfg }))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/healthz: %d %s", resp.StatusCode, body)
	}
	check("/healthz", strings.Split(strings.TrimSpace(string(body)), "\n"))

	// With agent.health_max_age, the account without a schedule is judged too.
	cfg.Agent.HealthMaxAge = config.Duration(50 * time.Hour)
	want = []string{"manual: last success"}
	check("with health_max_age", Unhealthy(context.Background(), cfg, now))
}

func reorder(text []byte) []byte {
	s := string(text)
	i := strings.Index(s, "agent:\n")
	j := strings.Index(s, "  - {name: manual")
	return []byte(s[:i] + s[j:] + s[i:j])
}

func pointers(cfg *config.Config) []*config.Account {
	var out []*config.Account
	for i := range cfg.Accounts {
		out = append(out, &cfg.Accounts[i])
	}
	return out
}

// recordRun writes a run of the given outcome that started at start.
func recordRun(t *testing.T, root, name string, start time.Time, outcome string) {
	t.Helper()
	ctx := context.Background()
	a, err := archive.OpenWriter(ctx, root, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	id, err := a.Catalog.BeginRun(ctx, "imap", start)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Catalog.FinishRun(ctx, id, outcome, archive.RunStats{}, nil, start.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
}
