package schedule

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// tick is one moment of a plan script: runs that end just before, an
// optional reload, then advance at the given clock time, and what it must
// decide.
type tick struct {
	at     string    // clock time on the script's day, "15:04" or "15:04:05"
	finish []string  // runs that end before advance
	reload *Settings // applied before advance
	start  []string  // want: runs started, in order
	skip   []string  // want: due runs skipped, "name" (still running) or "name/waiting"
	due    []string  // want: runs that became pending, "name@15:04:05" (the jittered start)
	wake   string    // want: the next wake-up, "" for none
}

// planScript is a table test of the rules: accounts with their schedules
// and the agent's settings, then ticks on an injected clock.
type planScript struct {
	name     string
	accounts map[string]string // name → schedule
	max      int
	jitter   time.Duration
	rand     []time.Duration // successive jitters; each must be below jitter
	ticks    []tick
}

var day = time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)

func clock(t *testing.T, s string) time.Time {
	t.Helper()
	for _, layout := range []string{"15:04:05", "15:04"} {
		if v, err := time.Parse(layout, s); err == nil {
			return day.Add(v.Sub(time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)))
		}
	}
	t.Fatalf("bad clock time %q", s)
	return time.Time{}
}

func settings(t *testing.T, accounts map[string]string, max int, jitter time.Duration) Settings {
	t.Helper()
	s := Settings{MaxConcurrent: max, Jitter: jitter}
	for name, spec := range accounts {
		a := Account{Name: name}
		if spec != "" {
			sc, err := Parse(spec, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			a.Schedule = sc
		}
		s.Accounts = append(s.Accounts, a)
	}
	return s
}

func fixedRand(t *testing.T, seq []time.Duration) func(int64) int64 {
	return func(n int64) int64 {
		if len(seq) == 0 {
			t.Fatal("the plan asked for more jitter than the script gives")
		}
		d := seq[0]
		seq = seq[1:]
		if int64(d) >= n {
			t.Fatalf("script jitter %s not below %s", d, time.Duration(n))
		}
		return int64(d)
	}
}

func TestPlan(t *testing.T) {
	for _, sc := range planScripts {
		t.Run(sc.name, func(t *testing.T) {
			p := newPlan(fixedRand(t, sc.rand))
			p.reload(settings(t, sc.accounts, sc.max, sc.jitter), day)
			for _, tk := range sc.ticks {
				now := clock(t, tk.at)
				for _, name := range tk.finish {
					p.finished(name, time.Time{})
				}
				if tk.reload != nil {
					p.reload(*tk.reload, now)
				}
				checkStep(t, tk, p.advance(now), p.wake())
			}
		})
	}
}

func checkStep(t *testing.T, tk tick, st step, wake time.Time) {
	t.Helper()
	var skips, dues []string
	for _, k := range st.Skip {
		s := k.Account
		if !k.Running {
			s += "/waiting"
		}
		skips = append(skips, s)
	}
	for _, d := range st.Due {
		dues = append(dues, d.Account+"@"+d.StartAt.Format("15:04:05"))
	}
	got := fmt.Sprintf("start %v skip %v wake %s", st.Start, skips, clockOf(wake))
	want := fmt.Sprintf("start %v skip %v wake %s", orNil(tk.start), orNil(tk.skip), tk.wake)
	if got != want {
		t.Errorf("at %s:\n got %s\nwant %s", tk.at, got, want)
	}
	if tk.due != nil && !slices.Equal(dues, tk.due) {
		t.Errorf("at %s: due %v, want %v", tk.at, dues, tk.due)
	}
}

func clockOf(t time.Time) string {
	switch {
	case t.IsZero():
		return ""
	case t.Second() == 0:
		return t.Format("15:04")
	}
	return t.Format("15:04:05")
}

func orNil(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

var planScripts = []planScript{
	{
		name:     "runs start when due",
		accounts: map[string]string{"a": "0 * * * *", "b": "30 * * * *", "manual": ""},
		ticks: []tick{
			{at: "00:00", wake: "00:30"}, // nothing is due at the start
			{at: "00:30", start: []string{"b"}, wake: "01:00"},
			{at: "01:00", finish: []string{"b"}, start: []string{"a"}, wake: "01:30"},
			{at: "01:20", finish: []string{"a"}, wake: "01:30"}, // an early wake-up does nothing
		},
	},
	{
		name:     "a due run while the last still runs is skipped",
		accounts: map[string]string{"a": "* * * * *"},
		ticks: []tick{
			{at: "00:01", start: []string{"a"}, wake: "00:02"},
			{at: "00:02", skip: []string{"a"}, wake: "00:03"},
			{at: "00:02:30", finish: []string{"a"}, wake: "00:03"},
			{at: "00:03", start: []string{"a"}, wake: "00:04"},
		},
	},
	{
		name:     "jitter delays the start, not the schedule",
		accounts: map[string]string{"a": "* * * * *"},
		jitter:   30 * time.Second,
		rand:     []time.Duration{20 * time.Second, 0, 29 * time.Second},
		ticks: []tick{
			{at: "00:01", due: []string{"a@00:01:20"}, wake: "00:01:20"},
			{at: "00:01:20", start: []string{"a"}, wake: "00:02"},
			{at: "00:02", finish: []string{"a"}, due: []string{"a@00:02:00"}, start: []string{"a"}, wake: "00:03"},
			{at: "00:03", finish: []string{"a"}, due: []string{"a@00:03:29"}, wake: "00:03:29"},
			{at: "00:03:29", start: []string{"a"}, wake: "00:04"},
		},
	},
	{
		name:     "a due run while the last waits for its jittered start is skipped",
		accounts: map[string]string{"a": "* * * * *"},
		jitter:   90 * time.Second,
		rand:     []time.Duration{80 * time.Second, 10 * time.Second},
		ticks: []tick{
			{at: "00:01", due: []string{"a@00:02:20"}, wake: "00:02"},
			{at: "00:02", skip: []string{"a/waiting"}, wake: "00:02:20"},
			{at: "00:02:20", start: []string{"a"}, wake: "00:03"},
			{at: "00:03", skip: []string{"a"}, wake: "00:04"},
			{at: "00:03:50", finish: []string{"a"}, wake: "00:04"},
			{at: "00:04", due: []string{"a@00:04:10"}, wake: "00:04:10"},
		},
	},
	{
		name:     "at most max accounts run at once",
		accounts: map[string]string{"a": "0 * * * *", "b": "0 * * * *", "c": "0 * * * *"},
		max:      2,
		ticks: []tick{
			{at: "01:00", start: []string{"a", "b"}, wake: "02:00"}, // c waits for a slot, no timer
			{at: "01:10", finish: []string{"b"}, start: []string{"c"}, wake: "02:00"},
			{at: "01:20", finish: []string{"a", "c"}, wake: "02:00"},
		},
	},
	{
		name:     "a freed slot goes to the earliest start",
		accounts: map[string]string{"a": "0 * * * *", "b": "0 * * * *", "c": "0 * * * *"},
		max:      1,
		jitter:   time.Minute,
		rand:     []time.Duration{50 * time.Second, 10 * time.Second, 30 * time.Second},
		ticks: []tick{
			{at: "01:00", due: []string{"a@01:00:50", "b@01:00:10", "c@01:00:30"}, wake: "01:00:10"},
			{at: "01:00:10", start: []string{"b"}, wake: "02:00"},
			{at: "01:00:55", wake: "02:00"}, // a and c are ready, the slot is taken
			{at: "01:01", finish: []string{"b"}, start: []string{"c"}, wake: "02:00"},
			{at: "01:02", finish: []string{"c"}, start: []string{"a"}, wake: "02:00"},
		},
	},
	{
		name:     "runs missed while the machine slept collapse into one",
		accounts: map[string]string{"a": "* * * * *"},
		ticks: []tick{
			{at: "00:10:30", start: []string{"a"}, wake: "00:11"},
		},
	},
	{
		name:     "@every keeps its rhythm when woken late",
		accounts: map[string]string{"a": "@every 10m"},
		ticks: []tick{
			{at: "00:10:00.5", start: []string{"a"}, wake: "00:20"},
			{at: "00:20:03", finish: []string{"a"}, start: []string{"a"}, wake: "00:30"},
		},
	},
	{
		name:     "a reload keeps unchanged schedules and restarts changed ones",
		accounts: map[string]string{"a": "@every 10m", "b": "@every 10m"},
		ticks: []tick{
			{at: "00:05", wake: "00:08", reload: &Settings{MaxConcurrent: 1, Accounts: []Account{
				{Name: "a", Schedule: mustParse("@every 10m")}, {Name: "b", Schedule: mustParse("@every 3m")}}}},
			{at: "00:08", start: []string{"b"}, wake: "00:10"},
		},
	},
	{
		name:     "a removed account finishes its run and is forgotten",
		accounts: map[string]string{"a": "* * * * *", "b": "* * * * *"},
		ticks: []tick{
			{at: "00:01", start: []string{"a"}, wake: "00:02"}, // b waits for the slot
			{at: "00:01:30", reload: &Settings{MaxConcurrent: 1, Accounts: []Account{{Name: "c", Schedule: mustParse("0 * * * *")}}},
				wake: "01:00"}, // b's pending run is dropped, a's goes on
			{at: "00:02", wake: "01:00"},
			{at: "00:03", finish: []string{"a"}, wake: "01:00"},
			{at: "01:00", start: []string{"c"}, wake: "02:00"},
		},
	},
	{
		name:     "an account added back while its old run goes on does not overlap it",
		accounts: map[string]string{"a": "* * * * *"},
		ticks: []tick{
			{at: "00:01", start: []string{"a"}, wake: "00:02"},
			{at: "00:01:10", reload: &Settings{MaxConcurrent: 1}},
			{at: "00:01:20", reload: &Settings{MaxConcurrent: 1, Accounts: []Account{{Name: "a", Schedule: mustParse("* * * * *")}}},
				wake: "00:02"},
			{at: "00:02", skip: []string{"a"}, wake: "00:03"},
			{at: "00:03", finish: []string{"a"}, start: []string{"a"}, wake: "00:04"},
		},
	},
}

func mustParse(spec string) Schedule {
	s, err := Parse(spec, time.UTC)
	if err != nil {
		panic(err)
	}
	return s
}
