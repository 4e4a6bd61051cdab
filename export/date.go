package export

import (
	"fmt"
	"strings"
	"time"
)

// ParseDate reads a --since or --before value: a date ("2026-11-01": the
// start of that day), a date and time without a zone ("2026-11-01T08:00"),
// both in loc, an RFC 3339 time, or an age ("30d", "12h": that long before
// now), parsed by parseAge (config's duration parser, which knows "d" and
// "w").
func ParseDate(s string, now time.Time, loc *time.Location, parseAge func(string) (time.Duration, error)) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02", "2006-01-02T15:04:05", "2006-01-02T15:04",
		"2006-01-02 15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	if age, err := parseAge(s); err == nil && age > 0 {
		return now.Add(-age), nil
	}
	return time.Time{}, fmt.Errorf("%q: want a date (2026-11-01), a date and time (2026-11-01T08:00), "+
		"an RFC 3339 time (2026-11-01T08:00:00Z) or an age (30d, 12h)", s)
}
