package schedule

import (
	"strings"
	"testing"
	"time"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParseNext(t *testing.T) {
	tests := []struct {
		spec, zone, from string
		want             []string // the next runs, in order
	}{
		{"0 */4 * * *", "Europe/Berlin", "2024-05-01T11:30:00+02:00",
			[]string{"2024-05-01T12:00:00+02:00", "2024-05-01T16:00:00+02:00", "2024-05-01T20:00:00+02:00"}},
		{"30 2 * * *", "UTC", "2024-05-01T02:30:00Z", // strictly after: not the same instant
			[]string{"2024-05-02T02:30:00Z", "2024-05-03T02:30:00Z"}},
		{"*/10 * * * * *", "UTC", "2024-05-01T12:00:05Z", // six fields: seconds first
			[]string{"2024-05-01T12:00:10Z", "2024-05-01T12:00:20Z"}},
		{"* * * * * *", "UTC", "2024-05-01T12:00:05.5Z",
			[]string{"2024-05-01T12:00:06Z", "2024-05-01T12:00:07Z"}},
		{"@hourly", "Europe/Berlin", "2024-05-01T11:59:59+02:00",
			[]string{"2024-05-01T12:00:00+02:00", "2024-05-01T13:00:00+02:00"}},
		{"@every 30m", "Europe/Berlin", "2024-05-01T12:00:07.5Z", // whole seconds, no zone
			[]string{"2024-05-01T12:30:07Z", "2024-05-01T13:00:07Z"}},
		{"@every 1s", "UTC", "2024-05-01T12:00:00Z",
			[]string{"2024-05-01T12:00:01Z", "2024-05-01T12:00:02Z"}},
		{"0 9 * * 1-5", "Europe/Berlin", "2024-05-03T10:00:00+02:00", // Friday → Monday
			[]string{"2024-05-06T09:00:00+02:00", "2024-05-07T09:00:00+02:00"}},
		{"CRON_TZ=America/New_York 0 9 * * *", "Europe/Berlin", "2024-05-01T00:00:00Z",
			[]string{"2024-05-01T09:00:00-04:00", "2024-05-02T09:00:00-04:00"}},
		{"@daily", "Europe/Berlin", "2024-03-30T23:30:00+01:00",
			[]string{"2024-03-31T00:00:00+01:00", "2024-04-01T00:00:00+02:00"}},
		// Clocks go 02:00 → 03:00: the skipped 02:30 runs at 03:30, once.
		{"30 2 * * *", "Europe/Berlin", "2024-03-30T12:00:00+01:00",
			[]string{"2024-03-31T03:30:00+02:00", "2024-04-01T02:30:00+02:00"}},
		// Clocks go 03:00 → 02:00: 02:30 happens twice, and runs twice.
		{"30 2 * * *", "Europe/Berlin", "2024-10-26T12:00:00+02:00",
			[]string{"2024-10-27T02:30:00+02:00", "2024-10-27T02:30:00+01:00", "2024-10-28T02:30:00+01:00"}},
		// An hourly schedule through the gap loses nothing that exists.
		{"30 * * * *", "Europe/Berlin", "2024-03-31T01:00:00+01:00",
			[]string{"2024-03-31T01:30:00+01:00", "2024-03-31T03:30:00+02:00", "2024-03-31T04:30:00+02:00"}},
	}
	for _, tc := range tests {
		t.Run(tc.spec+" from "+tc.from, func(t *testing.T) {
			s, err := Parse(tc.spec, mustLoc(t, tc.zone))
			if err != nil {
				t.Fatal(err)
			}
			at := mustTime(t, tc.from)
			for i, w := range tc.want {
				at = s.Next(at)
				if want := mustTime(t, w); !at.Equal(want) {
					t.Fatalf("run %d: %s, want %s", i+1, at, want)
				}
			}
		})
	}
}

func TestParseLocalByDefault(t *testing.T) {
	s, err := Parse("0 3 * * *", nil)
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2024, 5, 1, 12, 0, 0, 0, time.Local)
	if got, want := s.Next(from), time.Date(2024, 5, 2, 3, 0, 0, 0, time.Local); !got.Equal(want) {
		t.Fatalf("Next = %s, want %s", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	for _, spec := range []string{
		"", "* * * *", "* * * * * * *", "61 * * * *", "* 24 * * *", "0 0 32 * *",
		"@every", "@every 5 minutes", "@fortnightly", "0 0 30 2 *", "CRON_TZ=Mars/Olympus 0 * * * *",
	} {
		if _, err := Parse(spec, time.UTC); err == nil {
			t.Errorf("Parse(%q) succeeded", spec)
		} else if !strings.Contains(err.Error(), "schedule") {
			t.Errorf("Parse(%q): %v does not say it is about the schedule", spec, err)
		}
	}
}

func TestMaxAge(t *testing.T) {
	now := mustTime(t, "2024-05-01T12:00:00Z")
	tests := []struct {
		spec               string
		configured, jitter time.Duration
		want               time.Duration
	}{
		{"0 */6 * * *", 0, 2 * time.Minute, 18*time.Hour + 2*time.Minute},
		{"@daily", 0, 0, 72 * time.Hour},
		{"0 9 * * 1-5", 0, 0, 3 * 72 * time.Hour}, // the weekend is the longest gap
		{"@every 1s", 0, 0, MinHealthAge},
		{"*/5 * * * *", 0, time.Minute, MinHealthAge},
		{"@daily", 36 * time.Hour, time.Hour, 36 * time.Hour}, // configured wins
		{"@every 1s", 2 * time.Second, 0, 2 * time.Second},
	}
	for _, tc := range tests {
		s, err := Parse(tc.spec, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		if got := MaxAge(s, tc.configured, tc.jitter, now); got != tc.want {
			t.Errorf("MaxAge(%q, %s, %s) = %s, want %s", tc.spec, tc.configured, tc.jitter, got, tc.want)
		}
	}
}

func TestRetryDelay(t *testing.T) {
	r := Retry{}
	r.setDefaults()
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute}
	for i, w := range want {
		if got := r.delay(i + 1); got != w {
			t.Errorf("delay after attempt %d = %s, want %s", i+1, got, w)
		}
	}
	if got := (Retry{Base: time.Hour, Max: time.Minute}).delay(1); got != time.Minute {
		t.Errorf("a base above the cap: %s, want the cap", got)
	}
}
