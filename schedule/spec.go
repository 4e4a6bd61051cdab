package schedule

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// parser reads standard cron (5 fields), cron with seconds (6 fields) and
// the descriptors @yearly, @monthly, @weekly, @daily, @hourly and
// @every <duration>.
var parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom |
	cron.Month | cron.Dow | cron.Descriptor)

// Schedule says when an account is due.
type Schedule struct {
	text  string
	loc   *time.Location
	sched cron.Schedule
}

// Parse reads a schedule. Times in it are read in loc (nil means local
// time) unless the text starts with CRON_TZ=<zone>. A schedule that never
// comes due, such as "0 0 30 2 *", is an error.
func Parse(text string, loc *time.Location) (Schedule, error) {
	if loc == nil {
		loc = time.Local
	}
	s, err := parser.Parse(strings.TrimSpace(text))
	if err != nil {
		return Schedule{}, fmt.Errorf("schedule %q: %w", text, err)
	}
	if spec, ok := s.(*cron.SpecSchedule); ok && !hasZone(text) {
		spec.Location = loc
	}
	sc := Schedule{text: text, loc: loc, sched: s}
	if sc.Next(time.Now()).IsZero() {
		return Schedule{}, fmt.Errorf("schedule %q never comes due", text)
	}
	return sc, nil
}

func hasZone(text string) bool {
	t := strings.TrimSpace(text)
	return strings.HasPrefix(t, "TZ=") || strings.HasPrefix(t, "CRON_TZ=")
}

// String returns the schedule as written.
func (s Schedule) String() string { return s.text }

// IsZero reports whether s is the zero Schedule: no schedule at all.
func (s Schedule) IsZero() bool { return s.sched == nil }

// Next returns the first time after t at which s is due, or the zero time
// if it never is.
//
// A time that a daylight saving change skips ("30 2 * * *" on the night
// clocks go from 02:00 to 03:00) runs just after the gap, at 03:30, as
// cron does, instead of not at all that day. A time that the change
// repeats runs twice; for a backup that is an extra incremental run.
func (s Schedule) Next(t time.Time) time.Time {
	if s.sched == nil {
		return time.Time{}
	}
	next := s.sched.Next(t)
	if spec, ok := s.sched.(*cron.SpecSchedule); ok && !next.IsZero() {
		if skipped := wallNext(spec, t); skipped.After(t) && skipped.Before(next) {
			return skipped
		}
	}
	return next
}

// wallNext computes the next time on the wall clock of spec's zone, as if
// it had no daylight saving changes, and converts it back. For a wall time
// inside a gap, time.Date gives the instant just after the gap.
func wallNext(spec *cron.SpecSchedule, t time.Time) time.Time {
	loc := spec.Location
	if loc == time.Local {
		loc = t.Location()
	}
	w := t.In(loc)
	utc := *spec
	utc.Location = time.UTC
	n := utc.Next(time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), time.UTC))
	if n.IsZero() {
		return n
	}
	return time.Date(n.Year(), n.Month(), n.Day(), n.Hour(), n.Minute(), n.Second(), 0, loc)
}

// same reports whether s and o are the same text read in the same zone.
func (s Schedule) same(o Schedule) bool {
	return s.text == o.text && s.loc.String() == o.loc.String()
}

// gapLookahead is how many consecutive runs LongestGap looks at: enough
// to see a weekend in a weekday schedule or a month's end in a monthly one.
const gapLookahead = 40

// LongestGap returns the longest time between two consecutive runs of s
// among the next gapLookahead runs after t.
func (s Schedule) LongestGap(t time.Time) time.Duration {
	var longest time.Duration
	prev := s.Next(t)
	for range gapLookahead {
		next := s.Next(prev)
		if next.IsZero() {
			break
		}
		longest = max(longest, next.Sub(prev))
		prev = next
	}
	return longest
}

// Health bounds.
const (
	// HealthGaps is how many of the schedule's longest gaps may pass
	// without a successful run before an account counts as unhealthy: two
	// runs may fail, or one may fail and the next take a while.
	HealthGaps = 3
	// MinHealthAge is the least default bound, so that an account on a
	// schedule of minutes is not unhealthy while one long run goes on.
	MinHealthAge = time.Hour
)

// MaxAge is how old an account's last successful run may be before the
// account is unhealthy. A configured bound wins; otherwise it is
// HealthGaps times the schedule's longest gap plus the jitter, and at
// least MinHealthAge.
func MaxAge(s Schedule, configured, jitter time.Duration, now time.Time) time.Duration {
	if configured > 0 {
		return configured
	}
	return max(HealthGaps*s.LongestGap(now)+jitter, MinHealthAge)
}
