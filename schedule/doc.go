// Package schedule is mailkeep's agent: it runs each account's backup on
// the account's cron schedule, never two runs of one account at once and
// at most a set number of accounts at a time, with a random start delay
// (jitter), retries of temporary failures with backoff and of throttled
// ones after the server's delay, and a bounded shutdown.
//
// The package knows accounts only by name. The caller gives it a Job that
// backs one account up, and functions that tell a temporary or throttled
// failure or a busy account from the rest, so the rules here are tested
// with fake jobs and a fake clock, and cmd/mailkeep wires them to backup
// and archive.
//
// The rules themselves (which runs start, which are skipped, when to wake
// up next) are in plan, a pure function of the time it is given; Scheduler
// drives a plan with real timers and goroutines.
package schedule
