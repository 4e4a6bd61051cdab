package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	for in, want := range map[string]int64{
		"10MiB/s": 10 << 20, "500 KiB/s": 500 << 10, "2MB/s": 2e6, "1.5 MiB/s": 3 << 19,
		"1048576": 1 << 20, "64kb/s": 64000, "1GiB": 1 << 30, "100B/s": 100,
	} {
		got, err := ParseRate(in)
		if err != nil || got != want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "fast", "10 MiBs", "-1MiB/s", "0", "0.1", "10 TiB/s", "MiB/s", "1e3"} {
		if got, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) = %d, want an error", in, got)
		}
	}
}

func TestLimits(t *testing.T) {
	cfg, err := Parse([]byte(withAccount("    max_connections: 2\n    bandwidth: 1MiB/s\n    throttle_backoff: 30m\n")), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Accounts[0]
	if a.MaxConnections != 2 || a.Connections != 2 || a.Bandwidth != 1<<20 || a.ThrottleBackoff != Duration(30*time.Minute) {
		t.Errorf("account %+v: want 2 connections at most, 1 MiB/s, a 30m back-off", a)
	}
	for _, tt := range []struct{ in, want string }{
		{"    max_connections: 2\n    connections: 3\n", "connections: 3 is more than max_connections: 2"},
		{"    max_connections: 0\n", "max_connections: 0 is out of range 1..64"},
		{"    bandwidth: lots\n", `bandwidth: want a size per second such as "10MiB/s"`},
		{"    throttle_backoff: 10s\n", "throttle_backoff: 10s is below the minimum of 1m"},
	} {
		_, err := Parse([]byte(withAccount(tt.in)), "t.yaml")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %q", tt.in, err, tt.want)
		}
	}
}
