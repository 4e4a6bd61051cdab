// Package agent is "mailkeep run": it runs each account's jobs on the
// account's schedule (package schedule keeps the clock), reloads the
// configuration on SIGHUP, reports readiness and watchdog pings to
// systemd, and serves Prometheus metrics and /healthz. It also owns the job
// kinds themselves (a backup of one account, and the prune that follows a
// backup that ended ok when the account has retention), which the one-off
// commands run too, and the one health rule that /healthz and
// "mailkeep status --check" both apply.
package agent
