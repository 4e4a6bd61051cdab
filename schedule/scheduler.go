package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
)

// Job backs up one account. It must return soon after ctx is done,
// having left the account's archive at a safe point.
type Job func(ctx context.Context, account string) error

// Reasons a due run did not start, given to Observer.Skipped.
const (
	SkipOverlap   = "overlap"   // the account's previous run had not ended
	SkipBusy      = "busy"      // another process held the account
	SkipThrottled = "throttled" // the account waits for a throttled server's back-off
)

// Observer is told what the scheduler does, for metrics. Its methods are
// called from the scheduler's goroutines and must not block.
type Observer interface {
	Scheduled(account string, next time.Time) // the account's next run is due at next
	Skipped(account, reason string)           // a due run did not happen
	Running(account string, running bool)     // a run (with its retries) began or ended
}

// Options configure a Scheduler. The zero value retries nothing and logs
// nowhere.
type Options struct {
	Classify func(error) Class // nil: every error is Permanent
	Retry    Retry             // backoff for Temporary errors
	// RetryAfter is the wait after a Throttled error, as the server
	// suggested: the account's next attempt is a run that starts then, and
	// nothing runs for it before; nil or a result ≤ 0 means Retry.Max.
	RetryAfter func(error) time.Duration
	Log        *slog.Logger      // nil: no logs
	Observer   Observer          // nil: nobody is told
	Rand       func(int64) int64 // a number in [0, n), for the jitter; default math/rand/v2
}

func (o *Options) setDefaults() {
	if o.Classify == nil {
		o.Classify = func(error) Class { return Permanent }
	}
	o.Retry.setDefaults()
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	if o.Rand == nil {
		o.Rand = rand.Int64N
	}
}

type nopObserver struct{}

func (nopObserver) Scheduled(string, time.Time) {}
func (nopObserver) Skipped(string, string)      {}
func (nopObserver) Running(string, bool)        {}

// ErrStopped is returned by Reload once Run has returned.
var ErrStopped = errors.New("scheduler stopped")

// ErrStopTimeout is returned by Run when running jobs did not end within
// the stop timeout.
var ErrStopTimeout = errors.New("backups still running at the stop timeout")

// Scheduler runs jobs on their accounts' schedules; see the package
// comment for the rules.
type Scheduler struct {
	job      Job
	opts     Options
	settings Settings
	plan     *plan // owned by Run's goroutine

	reload chan Settings
	ping   chan chan struct{}
	done   chan ended
	quit   chan struct{} // closed when Run stops

	wg     sync.WaitGroup
	mu     sync.Mutex
	active map[string]bool // accounts whose job is running
}

// New returns a scheduler for s; Run starts it.
func New(job Job, s Settings, opts Options) *Scheduler {
	opts.setDefaults()
	return &Scheduler{job: job, opts: opts, settings: s, plan: newPlan(opts.Rand),
		reload: make(chan Settings), ping: make(chan chan struct{}), done: make(chan ended),
		quit: make(chan struct{}), active: map[string]bool{}}
}

// Run schedules until ctx is done. Then it starts nothing more, and waits
// for the running jobs, whose contexts are done too, to return, for at
// most the stop timeout. It returns nil, or an error wrapping
// ErrStopTimeout that names the jobs still running.
func (s *Scheduler) Run(ctx context.Context) error {
	s.plan.reload(s.settings, time.Now())
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.act(ctx, s.plan.advance(time.Now()))
		s.report()
		s.setTimer(timer, s.plan.wake())
		select {
		case <-ctx.Done():
			return s.stop()
		case <-timer.C:
		case e := <-s.done:
			s.plan.finished(e.name, e.until)
		case set := <-s.reload:
			s.settings = set
			s.plan.reload(set, time.Now())
		case reply := <-s.ping:
			close(reply)
		}
	}
}

// Reload replaces the settings of a running scheduler.
func (s *Scheduler) Reload(set Settings) error {
	select {
	case s.reload <- set:
		return nil
	case <-s.quit:
		return ErrStopped
	}
}

// Alive reports whether Run's loop answers before ctx is done: it is not
// stuck. The systemd watchdog is fed only while it is.
func (s *Scheduler) Alive(ctx context.Context) bool {
	reply := make(chan struct{})
	select {
	case s.ping <- reply:
	case <-ctx.Done():
		return false
	case <-s.quit:
		return false
	}
	select {
	case <-reply:
		return true
	case <-ctx.Done():
		return false
	}
}

// maxWait bounds one wait of Run's loop. Timers follow the monotonic
// clock and schedules the wall clock; after a suspend or a clock step the
// two disagree until the loop looks at the wall clock again.
const maxWait = time.Minute

func (s *Scheduler) setTimer(t *time.Timer, at time.Time) {
	if at.IsZero() {
		t.Stop()
		return
	}
	t.Reset(min(time.Until(at), maxWait))
}

// act logs a step's decisions and starts its runs.
func (s *Scheduler) act(ctx context.Context, st step) {
	for _, d := range st.Due {
		s.opts.Log.Debug("run due", "account", d.Account, "due", d.Due, "start", d.StartAt)
	}
	for _, k := range st.Skip {
		if k.Throttled {
			s.opts.Log.Info("run skipped: the server asked to wait; the next attempt is pending", "account", k.Account, "due", k.Due)
			s.opts.Observer.Skipped(k.Account, SkipThrottled)
			continue
		}
		why := "the previous run is still waiting to start"
		if k.Running {
			why = "the previous run is still going"
		}
		s.opts.Log.Warn("run skipped: "+why, "account", k.Account, "due", k.Due)
		s.opts.Observer.Skipped(k.Account, SkipOverlap)
	}
	for _, name := range st.Start {
		s.start(ctx, name)
	}
}

// report tells the observer each account's next due time.
func (s *Scheduler) report() {
	for _, e := range s.plan.entries {
		if !e.due.IsZero() {
			s.opts.Observer.Scheduled(e.Name, e.due)
		}
	}
}

func (s *Scheduler) start(ctx context.Context, name string) {
	s.setActive(name, true)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		until := s.runWithRetry(ctx, name)
		s.setActive(name, false)
		select {
		case s.done <- ended{name, until}:
		case <-s.quit:
		}
	}()
}

// ended is a run (with its retries) that ended; until is when a server
// that throttled it asked to be left alone until, or zero.
type ended struct {
	name  string
	until time.Time
}

func (s *Scheduler) setActive(name string, on bool) {
	s.mu.Lock()
	if on {
		s.active[name] = true
	} else {
		delete(s.active, name)
	}
	s.mu.Unlock()
	s.opts.Observer.Running(name, on)
}

// runWithRetry runs an account's job, again after a temporary failure. A
// throttled attempt ends the run: it returns when the server asked to be
// left alone until, and the plan holds the account's next attempt until
// then.
func (s *Scheduler) runWithRetry(ctx context.Context, name string) time.Time {
	log := s.opts.Log.With("account", name)
	for attempt := 1; ; attempt++ {
		err := s.job(ctx, name)
		if ctx.Err() == nil && err != nil && s.opts.Classify(err) == Throttled {
			until := time.Now().Add(s.throttleDelay(err))
			log.Warn("run throttled by the server; no attempt before its back-off", "next_attempt", until, "err", err)
			return until
		}
		wait, again := s.judge(ctx, log, name, attempt, err)
		if !again {
			return time.Time{}
		}
		if !sleep(ctx, wait) {
			log.Info("retry cancelled: stopping")
			return time.Time{}
		}
	}
}

// judge logs the outcome of one attempt and says whether, and after how
// long, to try again.
func (s *Scheduler) judge(ctx context.Context, log *slog.Logger, name string, attempt int, err error) (time.Duration, bool) {
	if err == nil {
		return 0, false
	}
	if ctx.Err() != nil {
		log.Info("run interrupted: stopping", "err", err)
		return 0, false
	}
	switch s.opts.Classify(err) {
	case Busy:
		log.Info("run skipped: the account is busy", "err", err)
		s.opts.Observer.Skipped(name, SkipBusy)
	case Incomplete:
		log.Warn("run incomplete; the next run retries what failed", "err", err)
	case Permanent:
		log.Error("run failed", "err", err)
	case Temporary:
		return s.retry(log, attempt, err, s.opts.Retry.delay(attempt), "run failed with a temporary error; retrying")
	}
	return 0, false
}

// retry logs a retry after wait, or that no attempts are left.
func (s *Scheduler) retry(log *slog.Logger, attempt int, err error, wait time.Duration, msg string) (time.Duration, bool) {
	if attempt >= s.opts.Retry.Attempts {
		log.Error("run failed; no attempts left", "attempts", attempt, "err", err)
		return 0, false
	}
	log.Warn(msg, "attempt", attempt, "retry_in", wait, "err", err)
	return wait, true
}

func (s *Scheduler) throttleDelay(err error) time.Duration {
	if s.opts.RetryAfter != nil {
		if d := s.opts.RetryAfter(err); d > 0 {
			return d
		}
	}
	return s.opts.Retry.Max
}

// stop waits for the running jobs, for at most the stop timeout.
func (s *Scheduler) stop() error {
	close(s.quit)
	timeout := s.settings.StopTimeout
	if timeout <= 0 {
		timeout = defaultStopTimeout
	}
	if names := s.activeNames(); len(names) > 0 {
		s.opts.Log.Info("stopping: no new runs; waiting for running backups to reach a safe point",
			"accounts", strings.Join(names, ","), "timeout", timeout)
	} else {
		s.opts.Log.Info("stopping: no new runs")
	}
	ended := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(ended)
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ended:
		return nil
	case <-t.C:
		return fmt.Errorf("%w (%s): %s", ErrStopTimeout, timeout, strings.Join(s.activeNames(), ", "))
	}
}

func (s *Scheduler) activeNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for name := range s.active {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}
