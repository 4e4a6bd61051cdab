package schedule

import (
	"cmp"
	"slices"
	"time"
)

// Account is one account the scheduler runs.
type Account struct {
	Name     string
	Schedule Schedule // the zero Schedule: the account is not run by the agent
	// NotBefore, when later than the time the account is added, is when a
	// server that throttled its last run asked to be left alone until: the
	// account gets a pending run then, and none before.
	NotBefore time.Time
}

// Settings are what Scheduler.Reload may change.
type Settings struct {
	Accounts      []Account
	MaxConcurrent int           // accounts running at once; default 1
	Jitter        time.Duration // each run starts up to this long after it is due
	StopTimeout   time.Duration // how long Run waits for running jobs at shutdown; default 30s
}

const defaultStopTimeout = 30 * time.Second

// entry is one account's state in a plan. An account has at most one run
// pending (due, waiting for its jittered start or a free slot) or running.
type entry struct {
	Account
	due     time.Time // when the schedule is next due; zero once removed
	startAt time.Time // when the pending run may start; zero when none is pending
	running bool
	removed bool      // no longer configured: forgotten when its run ends
	held    time.Time // a throttled server's back-off: no run starts before it
}

func (e *entry) pending() bool { return !e.startAt.IsZero() }

// plan holds the scheduling rules. It does no I/O and reads no clock:
// every method that needs the time is given it.
type plan struct {
	entries map[string]*entry
	max     int
	jitter  time.Duration
	rand    func(n int64) int64 // a number in [0, n)
	running int
}

// Due is a run that came due and is now pending.
type Due struct {
	Account string
	Due     time.Time // when the schedule said
	StartAt time.Time // Due plus the jitter
}

// Skip is a due run that was dropped because the account's previous run
// had not ended (Running) or not yet started (waiting for its jittered
// start or a free slot).
type Skip struct {
	Account   string
	Due       time.Time
	Running   bool
	Throttled bool // the pending run waits for a throttled server's back-off
}

// step is what plan.advance decided.
type step struct {
	Due   []Due
	Skip  []Skip
	Start []string // accounts whose run starts now, in start order
}

func newPlan(rand func(n int64) int64) *plan {
	return &plan{entries: map[string]*entry{}, rand: rand, max: 1}
}

// advance moves the plan to now: due accounts get a pending run, or a skip
// if they already have one, and pending runs start while slots are free.
func (p *plan) advance(now time.Time) step {
	var st step
	for _, e := range p.sorted() {
		if e.due.IsZero() || e.due.After(now) {
			continue
		}
		due := e.due
		e.due = e.nextDue(due, now)
		if e.running || e.pending() {
			st.Skip = append(st.Skip, Skip{Account: e.Name, Due: due, Running: e.running,
				Throttled: !e.running && !e.held.IsZero() && !due.After(e.held)})
			continue
		}
		e.startAt = due.Add(p.delay())
		st.Due = append(st.Due, Due{Account: e.Name, Due: due, StartAt: e.startAt})
	}
	st.Start = p.startReady(now)
	return st
}

// nextDue is the schedule's next time after due, or after now when the
// clock jumped past several (a suspended machine): missed runs collapse
// into the one just handled instead of firing one after the other.
func (e *entry) nextDue(due, now time.Time) time.Time {
	next := e.Schedule.Next(due)
	if !next.IsZero() && !next.After(now) {
		next = e.Schedule.Next(now)
	}
	return next
}

// delay is a random jitter in [0, p.jitter).
func (p *plan) delay() time.Duration {
	if p.jitter <= 0 {
		return 0
	}
	return time.Duration(p.rand(int64(p.jitter)))
}

// startReady starts the pending runs whose start time has come, earliest
// first, while fewer than max run.
func (p *plan) startReady(now time.Time) []string {
	var ready []*entry
	for _, e := range p.entries {
		if e.pending() && !e.startAt.After(now) {
			ready = append(ready, e)
		}
	}
	slices.SortFunc(ready, func(a, b *entry) int {
		return cmp.Or(a.startAt.Compare(b.startAt), cmp.Compare(a.Name, b.Name))
	})
	var started []string
	for _, e := range ready {
		if p.running >= p.max {
			break
		}
		e.startAt, e.running, e.held = time.Time{}, true, time.Time{}
		p.running++
		started = append(started, e.Name)
	}
	return started
}

// wake is the next time advance has something to do, or zero if only a
// finishing run can change anything.
func (p *plan) wake() time.Time {
	var t time.Time
	earlier := func(u time.Time) {
		if !u.IsZero() && (t.IsZero() || u.Before(t)) {
			t = u
		}
	}
	for _, e := range p.entries {
		earlier(e.due)
		if p.running < p.max {
			earlier(e.startAt)
		}
	}
	return t
}

// finished records the end of an account's run. A run that a server
// throttled until a time (zero: it was not) gets the account's next
// attempt then, as a pending run, and none before: due times until then
// are skipped.
func (p *plan) finished(name string, until time.Time) {
	e, ok := p.entries[name]
	if !ok || !e.running {
		return
	}
	e.running = false
	p.running--
	if e.removed {
		delete(p.entries, name)
		return
	}
	e.hold(until)
}

// hold makes the account's next run start at until, and none before.
func (e *entry) hold(until time.Time) {
	if until.IsZero() {
		return
	}
	e.held = until
	if e.startAt.Before(until) {
		e.startAt = until
	}
}

// reload applies new settings at now. An account whose schedule is
// unchanged keeps its next due time (so "@every 6h" does not restart its
// count); a new or changed one is due at its schedule's next time after
// now. A removed account loses its pending run; a running one finishes.
func (p *plan) reload(s Settings, now time.Time) {
	p.max, p.jitter = max(s.MaxConcurrent, 1), s.Jitter
	keep := map[string]bool{}
	for _, a := range s.Accounts {
		if a.Schedule.IsZero() {
			continue
		}
		keep[a.Name] = true
		e, ok := p.entries[a.Name]
		switch {
		case !ok:
			e = &entry{Account: a, due: a.Schedule.Next(now)}
			if a.NotBefore.After(now) {
				e.hold(a.NotBefore)
			}
			p.entries[a.Name] = e
		case e.removed || !e.Schedule.same(a.Schedule):
			e.Account, e.removed, e.due = a, false, a.Schedule.Next(now)
		}
	}
	for name, e := range p.entries {
		switch {
		case keep[name]:
		case e.running:
			e.removed, e.due, e.startAt = true, time.Time{}, time.Time{}
		default:
			delete(p.entries, name)
		}
	}
}

// sorted returns the entries by name, so that decisions are deterministic.
func (p *plan) sorted() []*entry {
	out := make([]*entry, 0, len(p.entries))
	for _, e := range p.entries {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b *entry) int { return cmp.Compare(a.Name, b.Name) })
	return out
}
