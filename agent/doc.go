// Package agent is "mailkeep run": it runs each account's jobs on the
// account's schedule (package schedule keeps the clock), reloads the
// configuration on SIGHUP, reports readiness and watchdog pings to
// systemd, and serves Prometheus metrics and /healthz, and the archive over
// IMAP when the config has a serve section. It also owns the job kinds
// themselves (a backup of one account, the prune that follows a backup that
// ended ok when the account has retention, the archive served as the
// config says), which the one-off commands run too, and the one health rule
// that /healthz and "mailkeep status --check" both apply.
package agent
