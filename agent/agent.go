package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/progress"
	"github.com/mailkeep/mailkeep/schedule"
)

// ErrConfig marks a configuration the agent cannot run: a schedule that
// does not parse or never comes due.
var ErrConfig = errors.New("invalid agent configuration")

// Job runs one backup of an account: Backup, or a test's stand-in.
type Job func(ctx context.Context, root string, a *config.Account, log *slog.Logger, p progress.Sink) (backup.Result, error)

// Options configure an Agent. Zero values mean the defaults.
type Options struct {
	Version  string                                    // the build's, for mailkeep_build_info
	Job      Job                                       // default Backup
	Prune    PruneJob                                  // after a backup that ends ok; default Prune
	Reload   func(path string) (*config.Config, error) // default config.Load
	Schedule schedule.Options                          // Retry and Rand; the agent sets the rest
}

// Agent runs the accounts' jobs on their schedules until stopped.
type Agent struct {
	log     *slog.Logger
	opts    Options
	cfg     atomic.Pointer[config.Config]
	sched   *schedule.Scheduler
	metrics *metrics
	serve   *Server // nil without a serve section
}

// New prepares an agent for cfg. An account's schedule that does not parse
// is an error wrapping ErrConfig.
func New(cfg *config.Config, log *slog.Logger, opts Options) (*Agent, error) {
	if opts.Job == nil {
		opts.Job = Backup
	}
	if opts.Prune == nil {
		opts.Prune = Prune
	}
	if opts.Reload == nil {
		opts.Reload = config.Load
	}
	set, err := settings(cfg, log)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	a := &Agent{log: log, opts: opts, metrics: newMetrics(opts.Version)}
	a.cfg.Store(cfg)
	a.metrics.setAccounts(set)
	if cfg.Serve != nil {
		a.metrics.serving()
		if a.serve, err = NewServer(context.Background(), cfg, ServeOptions{Observer: a.metrics}, log); err != nil {
			return nil, err
		}
	}
	so := opts.Schedule
	so.Classify, so.RetryAfter, so.Log, so.Observer = classify, retryAfter, log, a.metrics
	a.sched = schedule.New(a.backup, set, so)
	return a, nil
}

// settings reads the scheduler's settings from cfg. An account's schedule
// that does not parse is an error.
func settings(cfg *config.Config, log *slog.Logger) (schedule.Settings, error) {
	loc := Location(cfg)
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
		set.Accounts = append(set.Accounts, schedule.Account{Name: a.Name, Schedule: sc,
			NotBefore: throttledUntil(cfg.Archive, a.Name, log)})
	}
	if len(set.Accounts) == 0 && len(errs) == 0 {
		log.Warn("no account has a schedule: the agent has nothing to do")
	}
	return set, errors.Join(errs...)
}

// Run runs the agent until ctx is done: it serves the metrics when
// agent.metrics is set and the archive over IMAP with a serve section,
// starts the scheduler, tells systemd it is ready and reloads the
// configuration whenever hup receives. It returns an error when the
// metrics address cannot be listened on, or when runs were still going at
// the stop timeout (wrapping schedule.ErrStopTimeout).
func (a *Agent) Run(ctx context.Context, hup <-chan os.Signal) error {
	cfg := a.cfg.Load()
	a.metrics.seed(ctx, cfg.Archive, a.log)
	if cfg.Agent.Metrics != "" {
		srv, err := serveMetrics(cfg.Agent.Metrics, a.metrics.handler(a.log, a.cfg.Load), a.log)
		if err != nil {
			a.closeServe()
			return err
		}
		defer shutdown(srv)
	}
	if a.serve != nil {
		defer a.runServe(ctx)()
	}
	done := make(chan error, 1)
	go func() { done <- a.sched.Run(ctx) }()
	a.log.Info("agent started", "version", a.opts.Version, "config", cfg.Path, "accounts", len(cfg.Accounts))
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

func (a *Agent) stopped(err error) error {
	if err != nil {
		a.log.Error("exiting at the stop timeout", "err", err)
		return err
	}
	a.log.Info("stopped")
	return nil
}

func shutdown(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
}

// backup is the scheduler's job: one run of one account, and a prune
// after it when it ended ok.
func (a *Agent) backup(ctx context.Context, name string) error {
	cfg := a.cfg.Load()
	acct, err := cfg.Account(name)
	if err != nil {
		return err
	}
	log := a.log.With("account", name)
	log.Info("backup started")
	p := progress.New(io.Discard, name, false, a.log, "syncing folder", "account", name)
	res, err := a.opts.Job(ctx, cfg.Archive, acct, a.log, p)
	if err != nil && ctx.Err() != nil && res.RunID != 0 {
		// Stopping closes the connections; what fails then was interrupted.
		res.Outcome = archive.OutcomeInterrupted
	}
	a.metrics.observeRun(name, res, err, time.Now())
	logResult(log, res)
	if err == nil && res.Outcome == archive.OutcomeOK {
		a.prune(ctx, cfg.Archive, acct, log)
	}
	if len(acct.Replicate) > 0 && replicable(err) && ctx.Err() == nil {
		a.replicate(ctx, cfg.Archive, acct, log)
	}
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
		"linked", s.Linked, "not_downloaded", s.NotDownloaded, "saved_bytes", s.SavedBytes,
		"duration", r.Duration.Round(time.Millisecond))
	if !r.Throttle.Until.IsZero() {
		log.Warn("the server throttled the run; no attempt before its back-off", "until", r.Throttle.Until,
			"reply", r.Throttle.Reason)
	}
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
func (a *Agent) reload() {
	old := a.cfg.Load()
	a.log.Info("reloading the configuration", "config", old.Path)
	cfg, err := a.opts.Reload(old.Path)
	var set schedule.Settings
	if err == nil {
		set, err = settings(cfg, a.log)
	}
	if err != nil {
		a.metrics.reloaded(false)
		a.log.Error("configuration not reloaded; the agent keeps running with the previous one", "err", err)
		return
	}
	for _, w := range cfg.Warnings() {
		a.log.Warn(w.Text, "account", w.Account)
	}
	if cfg.Agent.Metrics != old.Agent.Metrics {
		a.log.Warn("agent.metrics changed: restart the agent to apply it", "serving", old.Agent.Metrics)
	}
	if serveChanged(old, cfg) {
		a.log.Warn("serve changed: restart the agent to apply it (accounts added since are not served either)")
	}
	a.cfg.Store(cfg)
	a.metrics.setAccounts(set)
	if err := a.sched.Reload(set); err != nil {
		return
	}
	a.metrics.reloaded(true)
	a.log.Info("configuration reloaded", "accounts", len(cfg.Accounts), "scheduled", len(set.Accounts))
}

// throttledUntil is when the server that throttled the account's last run
// asked to be left alone until, as its catalog recorded it; zero when it
// did not, or the catalog cannot say.
func throttledUntil(root, name string, log *slog.Logger) time.Time {
	snap, err := archive.OpenSnapshot(context.Background(), root, name)
	if err != nil {
		return time.Time{}
	}
	defer snap.Close()
	th, err := snap.Throttle(context.Background())
	if err != nil {
		log.Warn("cannot read the account's throttling", "account", name, "err", err)
	}
	return th.Until
}
