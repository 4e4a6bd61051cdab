package schedule

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// The tests below run in a synctest bubble: time is fake and moves only
// when every goroutine of the test is blocked, so "an hour" takes no time
// and the same thing happens on every run.

// recorder is a Job and an Observer that keeps what happened.
type recorder struct {
	mu       sync.Mutex
	starts   map[string][]time.Time
	running  map[string]int
	overlaps int
	most     int // most jobs at once
	skips    map[string]int
	next     map[string]time.Time
	work     func(ctx context.Context, account string, attempt int) error
}

func newRecorder(work func(ctx context.Context, account string, attempt int) error) *recorder {
	return &recorder{starts: map[string][]time.Time{}, running: map[string]int{},
		skips: map[string]int{}, next: map[string]time.Time{}, work: work}
}

func (r *recorder) job(ctx context.Context, account string) error {
	r.mu.Lock()
	r.starts[account] = append(r.starts[account], time.Now())
	attempt := len(r.starts[account])
	r.running[account]++
	if r.running[account] > 1 {
		r.overlaps++
	}
	total := 0
	for _, n := range r.running {
		total += n
	}
	r.most = max(r.most, total)
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.running[account]--
		r.mu.Unlock()
	}()
	return r.work(ctx, account, attempt)
}

func (r *recorder) Scheduled(account string, next time.Time) {
	r.mu.Lock()
	r.next[account] = next
	r.mu.Unlock()
}

func (r *recorder) Skipped(account, reason string) {
	r.mu.Lock()
	r.skips[account+"/"+reason]++
	r.mu.Unlock()
}

func (r *recorder) Running(string, bool) {}

// busyFor returns work that takes d, or less if ctx ends.
func busyFor(d time.Duration) func(context.Context, string, int) error {
	return func(ctx context.Context, _ string, _ int) error {
		if !sleep(ctx, d) {
			return ctx.Err()
		}
		return nil
	}
}

// runFor runs s for d of fake time, then stops it and returns Run's error.
func runFor(t *testing.T, s *Scheduler, d time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	return s.Run(ctx)
}

func every(t *testing.T, names ...string) []Account {
	var out []Account
	for _, n := range names {
		out = append(out, Account{Name: n, Schedule: mustParse("@every 1s")})
	}
	return out
}

func TestSchedulerSkipsOverlappingRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder(busyFor(2500 * time.Millisecond))
		s := New(r.job, Settings{Accounts: every(t, "a"), MaxConcurrent: 4}, Options{Observer: r})
		if err := runFor(t, s, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		// Due every second, each run 2.5 s: runs at 1, 4, 7, 10 s (the last
		// cancelled at once), with two skips between each.
		if n := len(r.starts["a"]); n != 4 || r.overlaps != 0 {
			t.Fatalf("%d runs with %d overlaps, want 4 and 0: %v", n, r.overlaps, r.starts["a"])
		}
		if r.skips["a/overlap"] != 6 {
			t.Fatalf("skips %v, want 6 overlaps", r.skips)
		}
	})
}

func TestSchedulerLimitsConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder(busyFor(1500 * time.Millisecond))
		s := New(r.job, Settings{Accounts: every(t, "a", "b", "c", "d", "e"), MaxConcurrent: 2}, Options{Observer: r})
		if err := runFor(t, s, 20*time.Second); err != nil {
			t.Fatal(err)
		}
		if r.most != 2 || r.overlaps != 0 {
			t.Fatalf("at most %d at once with %d overlaps, want 2 and 0", r.most, r.overlaps)
		}
		for _, name := range []string{"a", "b", "c", "d", "e"} {
			if len(r.starts[name]) < 3 {
				t.Errorf("%s ran %d times in 20 s: starved", name, len(r.starts[name]))
			}
		}
	})
}

func TestSchedulerJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder(busyFor(0))
		jitters := []int64{int64(40 * time.Second), int64(5 * time.Second)}
		rnd := func(n int64) int64 { j := jitters[0]; jitters = jitters[1:]; return j }
		sched := mustParse("* * * * *")
		start := time.Now()
		s := New(r.job, Settings{Accounts: []Account{{Name: "a", Schedule: sched}}, Jitter: time.Minute},
			Options{Observer: r, Rand: rnd})
		if err := runFor(t, s, 2*time.Minute+30*time.Second); err != nil {
			t.Fatal(err)
		}
		first := sched.Next(start)
		want := []time.Time{first.Add(40 * time.Second), first.Add(time.Minute + 5*time.Second)}
		if got := r.starts["a"]; len(got) != 2 || !got[0].Equal(want[0]) || !got[1].Equal(want[1]) {
			t.Fatalf("runs at %v, want %v", got, want)
		}
	})
}

var (
	errSlow = errors.New("throttled: retry after 4m")
	errHush = errors.New("throttled")
	errTemp = errors.New("connection reset")
	errPerm = errors.New("authentication failed")
	errBusy = errors.New("account busy")
	errPart = errors.New("2 messages failed")
)

func classify(err error) Class {
	switch {
	case errors.Is(err, errTemp):
		return Temporary
	case errors.Is(err, errSlow), errors.Is(err, errHush):
		return Throttled
	case errors.Is(err, errBusy):
		return Busy
	case errors.Is(err, errPart):
		return Incomplete
	}
	return Permanent
}

func retryAfter(err error) time.Duration {
	if errors.Is(err, errSlow) {
		return 4 * time.Minute
	}
	return 0
}

func TestSchedulerRetries(t *testing.T) {
	tests := []struct {
		name     string
		errs     []error // what attempts 1, 2, … return; nil after the list
		attempts []time.Duration
		busy     int
	}{
		{"temporary then ok", []error{errTemp, errTemp}, []time.Duration{0, 30 * time.Second, 90 * time.Second}, 0},
		{"temporary until no attempts left", []error{errTemp, errTemp, errTemp, errTemp}, []time.Duration{0, 30 * time.Second, 90 * time.Second}, 0},
		{"permanent is not retried", []error{errPerm}, []time.Duration{0}, 0},
		{"incomplete is not retried", []error{errPart}, []time.Duration{0}, 0},
		{"busy is skipped", []error{errBusy}, []time.Duration{0}, 1},
		// A throttled attempt ends the run; the next run starts after the
		// server's delay, with attempts of its own.
		{"throttled waits the server's delay", []error{errSlow, errTemp}, []time.Duration{0, 4 * time.Minute, 4*time.Minute + 30*time.Second}, 0},
		{"throttled without a delay waits Retry.Max", []error{errHush}, []time.Duration{0, 5 * time.Minute}, 0},
		{"throttled again and again", []error{errSlow, errSlow, errSlow, errSlow}, []time.Duration{0, 4 * time.Minute, 8 * time.Minute}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRecorder(func(_ context.Context, _ string, attempt int) error {
					if attempt <= len(tc.errs) {
						return tc.errs[attempt-1]
					}
					return nil
				})
				s := New(r.job, Settings{Accounts: []Account{{Name: "a", Schedule: mustParse("@hourly")}}},
					Options{Observer: r, Classify: classify, RetryAfter: retryAfter})
				if err := runFor(t, s, time.Hour+10*time.Minute); err != nil {
					t.Fatal(err)
				}
				got := r.starts["a"]
				if len(got) != len(tc.attempts) {
					t.Fatalf("%d attempts at %v, want %d", len(got), got, len(tc.attempts))
				}
				for i, off := range tc.attempts {
					if d := got[i].Sub(got[0]); d != off {
						t.Errorf("attempt %d at +%s, want +%s", i+1, d, off)
					}
				}
				if r.skips["a/busy"] != tc.busy {
					t.Errorf("busy skips %d, want %d", r.skips["a/busy"], tc.busy)
				}
			})
		})
	}
}

func TestSchedulerStopsRetryingOnShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder(func(context.Context, string, int) error { return errTemp })
		s := New(r.job, Settings{Accounts: every(t, "a")}, Options{Observer: r, Classify: classify})
		start := time.Now()
		if err := runFor(t, s, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Fatalf("Run returned after %s, want at once at the 5 s shutdown, not after the backoff", d)
		}
		if n := len(r.starts["a"]); n != 1 {
			t.Fatalf("%d attempts, want 1", n)
		}
	})
}

func TestSchedulerStopTimeout(t *testing.T) {
	tests := []struct {
		name    string
		settle  time.Duration // how long a job takes to reach a safe point once cancelled
		wantErr bool
		wantAt  time.Duration // Run returns this long after the shutdown
	}{
		{"jobs reach a safe point in time", 2 * time.Second, false, 2 * time.Second},
		{"jobs that do not are left behind", time.Hour, true, 5 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				release := make(chan struct{})
				defer close(release)
				work := func(ctx context.Context, _ string, _ int) error {
					<-ctx.Done()
					select {
					case <-time.After(tc.settle):
					case <-release:
					}
					return ctx.Err()
				}
				r := newRecorder(work)
				s := New(r.job, Settings{Accounts: every(t, "a", "b"), MaxConcurrent: 2, StopTimeout: 5 * time.Second},
					Options{Observer: r})
				ctx, cancel := context.WithCancel(t.Context())
				errc := make(chan error)
				go func() { errc <- s.Run(ctx) }()
				time.Sleep(10 * time.Second)
				cancel()
				stopped := time.Now()
				err := <-errc
				if got := time.Since(stopped); got != tc.wantAt {
					t.Errorf("Run returned %s after the shutdown, want %s", got, tc.wantAt)
				}
				if tc.wantErr != errors.Is(err, ErrStopTimeout) {
					t.Fatalf("Run: %v", err)
				}
				if tc.wantErr && err.Error() != "backups still running at the stop timeout (5s): a, b" {
					t.Errorf("error %q does not name the running jobs", err)
				}
			})
		})
	}
}

func TestSchedulerReloadAndAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder(busyFor(0))
		s := New(r.job, Settings{Accounts: []Account{{Name: "a", Schedule: mustParse("@hourly")}}}, Options{Observer: r})
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error)
		go func() { errc <- s.Run(ctx) }()
		if !s.Alive(ctx) {
			t.Fatal("a running scheduler is not alive")
		}
		if err := s.Reload(Settings{Accounts: every(t, "b")}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3*time.Second + time.Millisecond)
		r.mu.Lock()
		if len(r.starts["a"]) != 0 || len(r.starts["b"]) != 3 {
			t.Errorf("after the reload: runs %v, want b's only", r.starts)
		}
		if _, ok := r.next["b"]; !ok {
			t.Error("the observer was not told b's next run")
		}
		r.mu.Unlock()
		cancel()
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if err := s.Reload(Settings{}); !errors.Is(err, ErrStopped) {
			t.Fatalf("Reload after Run: %v", err)
		}
		if s.Alive(t.Context()) {
			t.Fatal("a stopped scheduler is alive")
		}
	})
}

// TestSchedulerHoldsThrottled: after a throttled run, the account's due
// times are skipped (reason throttled) until the server's back-off ends;
// then one run starts, and the schedule goes on.
func TestSchedulerHoldsThrottled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder(func(_ context.Context, _ string, attempt int) error {
			if attempt == 1 {
				return errSlow // 4 minutes
			}
			return nil
		})
		start := time.Now()
		s := New(r.job, Settings{Accounts: []Account{{Name: "a", Schedule: mustParse("@every 1m")}}},
			Options{Observer: r, Classify: classify, RetryAfter: retryAfter})
		if err := runFor(t, s, 7*time.Minute+30*time.Second); err != nil {
			t.Fatal(err)
		}
		var at []time.Duration
		for _, st := range r.starts["a"] {
			at = append(at, st.Sub(start))
		}
		// Throttled at 1m until 5m: 2m, 3m, 4m and 5m skipped; 5m runs the
		// held attempt, then 6m and 7m as scheduled.
		want := []time.Duration{time.Minute, 5 * time.Minute, 6 * time.Minute, 7 * time.Minute}
		if !slices.Equal(at, want) {
			t.Errorf("runs at %v, want %v", at, want)
		}
		if r.skips["a/throttled"] != 4 || r.skips["a/overlap"] != 0 {
			t.Errorf("skips %v, want 4 throttled", r.skips)
		}
	})
}

// TestSchedulerNotBefore: an account whose last run was throttled until
// a time after the start (an agent restarted during the back-off) runs
// no sooner than that.
func TestSchedulerNotBefore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder(busyFor(0))
		start := time.Now()
		acct := Account{Name: "a", Schedule: mustParse("@every 1m"), NotBefore: start.Add(150 * time.Second)}
		s := New(r.job, Settings{Accounts: []Account{acct}}, Options{Observer: r})
		if err := runFor(t, s, 3*time.Minute+30*time.Second); err != nil {
			t.Fatal(err)
		}
		if got := r.starts["a"]; len(got) != 2 || got[0].Sub(start) != 150*time.Second || got[1].Sub(start) != 3*time.Minute {
			t.Errorf("runs at %v, want +2m30s and +3m", got)
		}
	})
}
