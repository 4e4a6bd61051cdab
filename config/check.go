package config

import (
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults and limits.
const (
	defaultConnections   = 4
	maxConnections       = 16
	defaultMaxConcurrent = 4
	defaultStopTimeout   = Duration(30 * time.Second)
)

// check validates cfg and fills in defaults. accounts[i] is the section of
// cfg.Accounts[i].
func check(cfg *Config, top *section, accounts []*section) {
	dir := configDir(cfg.Path)
	checkTop(cfg, top, dir)
	checkAgent(&cfg.Agent, top)
	checkServe(cfg, top, dir)
	for i := range cfg.Accounts {
		checkAccount(&cfg.Accounts[i], accounts[i], dir)
		checkReplicas(&cfg.Accounts[i], accounts[i], dir, cfg.Archive)
	}
	checkUniqueNames(cfg.Accounts, accounts)
	checkStateDir(cfg, top, dir)
}

// configDir is the absolute directory of the configuration file, against
// which relative paths in it are resolved.
func configDir(path string) string {
	dir := filepath.Dir(path)
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

func checkTop(cfg *Config, s *section, dir string) {
	if cfg.Archive == "" {
		s.errorf("archive", "archive: missing (the directory that holds the backup)")
	}
	cfg.Archive = resolvePath(s, "archive", dir, cfg.Archive)
	if len(cfg.Accounts) == 0 {
		s.errorf("accounts", "no accounts: list at least one under \"accounts\"")
	}
}

func checkAgent(ag *Agent, s *section) {
	if ag.Timezone != "" {
		if _, err := time.LoadLocation(ag.Timezone); err != nil {
			s.errorf("agent.timezone", "agent.timezone: unknown time zone %q (want an IANA name such as \"Europe/Berlin\")", ag.Timezone)
		}
	}
	if ag.MaxConcurrent == 0 {
		ag.MaxConcurrent = defaultMaxConcurrent
	}
	checkMin(s, "agent.max_concurrent", ag.MaxConcurrent, 1)
	checkNotNegative(s, "agent.jitter", ag.Jitter)
	checkNotNegative(s, "agent.health_max_age", ag.HealthMaxAge)
	checkNotNegative(s, "agent.stop_timeout", ag.StopTimeout)
	if ag.StopTimeout == 0 {
		ag.StopTimeout = defaultStopTimeout
	}
	checkMetrics(ag.Metrics, s)
}

func checkMetrics(addr string, s *section) {
	if addr == "" {
		return
	}
	_, port, err := net.SplitHostPort(addr)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 1 || n > 65535 {
		s.errorf("agent.metrics", "agent.metrics: %q is not host:port with a port number (e.g. \"127.0.0.1:9464\" or \":9464\")", addr)
	}
}

func checkMin(s *section, key string, v, least int) {
	if v < least {
		s.errorf(key, "%s: %d is below the minimum of %d", key, v, least)
	}
}

func checkRange(s *section, key string, v, lo, hi int) {
	if v < lo || v > hi {
		s.errorf(key, "%s: %d is out of range %d..%d", key, v, lo, hi)
	}
}

func checkNotNegative(s *section, key string, d Duration) {
	if d < 0 {
		s.errorf(key, "%s: %s is negative", key, d)
	}
}

// oneOf reports whether v is one of allowed, and records a problem if not.
func oneOf(s *section, key, v string, allowed ...string) bool {
	switch {
	case slices.Contains(allowed, v):
		return true
	case v == "":
		s.errorf(key, "%s: missing (one of %s)", key, strings.Join(allowed, ", "))
	default:
		s.errorf(key, "%s: %q is not one of %s", key, v, strings.Join(allowed, ", "))
	}
	return false
}

// orDefault returns v, or def if v is empty.
func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
