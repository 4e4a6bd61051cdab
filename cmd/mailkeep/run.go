package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/spf13/cobra"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/schedule"
	"github.com/mailkeep/mailkeep/transport"
)

func runCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run as a service: back up each account on its schedule until stopped",
		Long: `Run as a service: back up each account that has a schedule, on that schedule,
until stopped. Accounts without a schedule are left to "mailkeep backup".

SIGTERM or SIGINT: start no more runs, let running ones stop at a safe point,
and exit within agent.stop_timeout. SIGHUP: read the configuration again; if
it is invalid, keep the running one and log why. Under systemd (Type=notify)
the agent reports READY, STOPPING and watchdog pings.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// SIGHUP would end the process until run listens for it.
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			log, err := g.logger()
			if err != nil {
				return err
			}
			cfg, err := g.loadConfig(log)
			if err != nil {
				return err
			}
			a, err := newAgent(cfg, log)
			if err != nil {
				return err
			}
			return a.run(cmd.Context(), hup)
		},
	}
}

// agent is the state of "mailkeep run": the configuration in force, the
// scheduler and the metrics.
type agent struct {
	log     *slog.Logger
	cfg     atomic.Pointer[config.Config]
	sched   *schedule.Scheduler
	metrics *metrics
}

func newAgent(cfg *config.Config, log *slog.Logger) (*agent, error) {
	set, err := agentSettings(cfg, log)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	a := &agent{log: log, metrics: newMetrics(time.Now())}
	a.cfg.Store(cfg)
	a.metrics.setAccounts(cfg, set, time.Now())
	a.sched = schedule.New(a.backup, set, schedule.Options{Classify: classify, RetryAfter: transport.RetryAfter,
		Log: log, Observer: a.metrics})
	return a, nil
}

// agentSettings reads the scheduler's settings from cfg. An account's
// schedule that does not parse is an error.
func agentSettings(cfg *config.Config, log *slog.Logger) (schedule.Settings, error) {
	loc := agentLocation(cfg)
	set := schedule.Settings{MaxConcurrent: cfg.Agent.MaxConcurrent, Jitter: time.Duration(cfg.Agent.Jitter),
		StopTimeout: time.Duration(cfg.Agent.StopTimeout)}
	var errs []error
	for _, a := range cfg.Accounts {
		if a.Schedule == "" {
			log.Info("account has no schedule: the agent leaves it to \"mailkeep backup\"", "account", a.Name)
			continue
		}
		sc, err := schedule.Parse(a.Schedule, loc)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: account %q: %w", cfg.Path, a.Line, a.Name, err))
			continue
		}
		set.Accounts = append(set.Accounts, schedule.Account{Name: a.Name, Schedule: sc})
	}
	if len(set.Accounts) == 0 && len(errs) == 0 {
		log.Warn("no account has a schedule: the agent has nothing to do")
	}
	return set, errors.Join(errs...)
}

// agentLocation is the zone schedules are read in; config checked the name.
func agentLocation(cfg *config.Config) *time.Location {
	if cfg.Agent.Timezone == "" {
		return time.Local
	}
	loc, err := time.LoadLocation(cfg.Agent.Timezone)
	if err != nil {
		return time.Local
	}
	return loc
}

// classify tells the scheduler what a backup's error means: a busy
// account and a partial run are the archive's and backup's to say, the
// rest is transport.Classify's, for IMAP and POP3 alike.
func classify(err error) schedule.Class {
	switch {
	case errors.Is(err, archive.ErrBusy):
		return schedule.Busy
	case errors.Is(err, backup.ErrPartial):
		return schedule.Incomplete
	}
	switch transport.Classify(err) {
	case transport.Temporary:
		return schedule.Temporary
	case transport.Throttled:
		return schedule.Throttled
	}
	return schedule.Permanent
}

// run runs the agent until ctx is done.
func (a *agent) run(ctx context.Context, hup <-chan os.Signal) error {
	cfg := a.cfg.Load()
	a.metrics.seed(ctx, cfg.Archive, a.log)
	var srv *http.Server
	if cfg.Agent.Metrics != "" {
		var err error
		if srv, err = serveMetrics(cfg.Agent.Metrics, a.metrics.handler(a.log), a.log); err != nil {
			return withCode(exitFailure, err)
		}
		defer shutdown(srv)
	}
	done := make(chan error, 1)
	go func() { done <- a.sched.Run(ctx) }()
	a.log.Info("agent started", "version", version, "config", cfg.Path, "accounts", len(cfg.Accounts))
	notify(a.log, daemon.SdNotifyReady)
	go a.watchdog(ctx)
	for {
		select {
		case <-hup:
			a.reload()
		case err := <-done:
			return a.stopped(err)
		case <-ctx.Done():
			notify(a.log, daemon.SdNotifyStopping)
			return a.stopped(<-done)
		}
	}
}

func (a *agent) stopped(err error) error {
	if err != nil {
		a.log.Error("exiting at the stop timeout", "err", err)
		return withCode(exitFailure, err)
	}
	a.log.Info("stopped")
	return nil
}

func shutdown(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
}

// backup is the scheduler's job: one run of one account.
func (a *agent) backup(ctx context.Context, name string) error {
	cfg := a.cfg.Load()
	acct, err := cfg.Account(name)
	if err != nil {
		return err
	}
	log := a.log.With("account", name)
	log.Info("backup started")
	p := newProgress(io.Discard, name, false, a.log)
	res, err := backupAccount(ctx, cfg.Archive, acct, a.log, p)
	if err != nil && ctx.Err() != nil && res.RunID != 0 {
		// Stopping closes the connections; what fails then was interrupted.
		res.Outcome = archive.OutcomeInterrupted
	}
	a.metrics.observeRun(name, res, err, time.Now())
	logResult(log, res)
	return err
}

// logResult logs a run's counts; the scheduler logs its error.
func logResult(log *slog.Logger, r backup.Result) {
	if r.RunID == 0 {
		return
	}
	s := r.Stats
	log.Info("backup finished", "outcome", r.Outcome, "folders", s.Folders, "new_messages", s.NewMessages,
		"new_bytes", s.NewBytes, "flag_updates", s.FlagUpdates, "gone", s.Gone, "errors", s.Errors,
		"duration", r.Duration.Round(time.Millisecond))
	for i, f := range r.Failures {
		if i == 10 {
			log.Warn("more failures not shown", "count", len(r.Failures)-10)
			break
		}
		log.Warn("failed", "err", f)
	}
}

// reload reads the configuration file again and applies it, or keeps the
// running configuration if the new one is invalid.
func (a *agent) reload() {
	old := a.cfg.Load()
	a.log.Info("reloading the configuration", "config", old.Path)
	cfg, err := config.Load(old.Path)
	var set schedule.Settings
	if err == nil {
		set, err = agentSettings(cfg, a.log)
	}
	if err != nil {
		a.metrics.reloaded(false)
		a.log.Error("configuration not reloaded; the agent keeps running with the previous one", "err", err)
		return
	}
	for _, w := range cfg.Warnings() {
		a.log.Warn(w)
	}
	if cfg.Agent.Metrics != old.Agent.Metrics {
		a.log.Warn("agent.metrics changed: restart the agent to apply it", "serving", old.Agent.Metrics)
	}
	a.cfg.Store(cfg)
	a.metrics.setAccounts(cfg, set, time.Now())
	if err := a.sched.Reload(set); err != nil {
		return
	}
	a.metrics.reloaded(true)
	a.log.Info("configuration reloaded", "accounts", len(cfg.Accounts), "scheduled", len(set.Accounts))
}

// watchdog pings systemd's watchdog at half its interval, as long as the
// scheduler's loop answers.
func (a *agent) watchdog(ctx context.Context) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		a.log.Warn("systemd watchdog", "err", err)
	}
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			alive, cancel := context.WithTimeout(ctx, interval/2)
			if a.sched.Alive(alive) {
				notify(a.log, daemon.SdNotifyWatchdog)
			} else if ctx.Err() == nil {
				a.log.Error("scheduler loop does not answer: withholding the watchdog ping")
			}
			cancel()
		}
	}
}

// notify sends a state to systemd when NOTIFY_SOCKET names its socket.
func notify(log *slog.Logger, state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		log.Warn("sd_notify", "state", state, "err", err)
	}
}
