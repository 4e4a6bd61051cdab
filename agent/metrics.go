package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/replicate"
	"github.com/mailkeep/mailkeep/schedule"
	"github.com/mailkeep/mailkeep/serve"
)

// outcomes are the values of the outcome label.
var outcomes = []string{archive.OutcomeOK, archive.OutcomePartial, archive.OutcomeFailed, archive.OutcomeInterrupted}

// metrics are the agent's Prometheus metrics, in a registry of their own.
// It implements schedule.Observer.
type metrics struct {
	reg         *prometheus.Registry
	lastSuccess *prometheus.GaugeVec
	lastRun     *prometheus.GaugeVec
	lastOutcome *prometheus.GaugeVec
	runs        *prometheus.CounterVec
	messages    *prometheus.CounterVec
	bytes       *prometheus.CounterVec
	deleted     *prometheus.CounterVec
	pruned      *prometheus.CounterVec
	prunedBytes *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	errors      *prometheus.CounterVec
	skipped     *prometheus.CounterVec
	running     *prometheus.GaugeVec
	next        *prometheus.GaugeVec
	throttled   *prometheus.GaugeVec
	reloads     *prometheus.CounterVec
	replicas    *prometheus.CounterVec
	replicaOK   *prometheus.GaugeVec

	// serve, registered when the agent serves the archive
	sessions      prometheus.Gauge
	sessionsTotal prometheus.Counter
	logins        *prometheus.CounterVec

	mu       sync.Mutex
	accounts map[string]bool // the scheduled accounts, whose series exist
}

var (
	_ schedule.Observer = (*metrics)(nil)
	_ serve.Observer    = (*metrics)(nil)
)

func newMetrics(version string) *metrics {
	acct := []string{"account"}
	m := &metrics{reg: prometheus.NewRegistry(), accounts: map[string]bool{},
		lastSuccess: gauge("last_success_timestamp_seconds", "When the account's last successful (ok or partial) run ended, in Unix seconds.", acct),
		lastRun:     gauge("last_run_timestamp_seconds", "When the account's last run ended, in Unix seconds.", acct),
		lastOutcome: gauge("last_run_outcome", "1 for the outcome of the account's last run (ok, partial, failed, interrupted), 0 for the others.", []string{"account", "outcome"}),
		runs:        counter("runs_total", "Runs (attempts) that ended, by outcome.", []string{"account", "outcome"}),
		messages:    counter("archived_messages_total", "New messages archived.", acct),
		bytes:       counter("archived_bytes_total", "Bytes of new messages archived, before compression.", acct),
		deleted:     counter("server_deleted_messages_total", "Archived messages a POP3 run deleted from the server (delete mode, delete_after_days).", acct),
		pruned:      counter("pruned_messages_total", "Messages a prune took out of the archive (retention).", acct),
		prunedBytes: counter("pruned_bytes_total", "Bytes of the messages a prune took out of the archive, before compression.", acct),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mailkeep_run_duration_seconds",
			Help: "How long runs took.", Buckets: prometheus.ExponentialBuckets(1, 4, 9)}, acct),
		errors:    counter("errors_total", "Failures: each failed message or folder of a run, and each run that failed as a whole.", acct),
		skipped:   counter("skipped_runs_total", "Due runs that did not happen: overlap (the previous run was still going), busy (another process held the account) or throttled (the server asked to wait, and the next attempt waits for it).", []string{"account", "reason"}),
		running:   gauge("run_in_progress", "1 while a run of the account (with its retries) goes on.", acct),
		next:      gauge("next_run_timestamp_seconds", "When the account's next run is due, before jitter, in Unix seconds.", acct),
		throttled: gauge("throttled_until_timestamp_seconds", "Until when the server asked to be left alone after throttling the account's last run, in Unix seconds; no attempt comes before it. 0 when it did not.", acct),
		reloads:   counter("config_reloads_total", "Configuration reloads on SIGHUP, by result (ok or failed).", []string{"result"}),
		replicas: counter("replicate_runs_total", "Replications after a backup, by replica and outcome (ok, partial, failed).",
			[]string{"account", "replica", "outcome"}),
		replicaOK: gauge("replicate_last_success_timestamp_seconds", "When the replica last became complete (ok or partial), in Unix seconds.",
			[]string{"account", "replica"}),
	}
	info := gauge("build_info", "Always 1; the version label is the build's.", []string{"version"})
	info.WithLabelValues(version).Set(1)
	m.reg.MustRegister(m.lastSuccess, m.lastRun, m.lastOutcome, m.runs, m.messages, m.bytes, m.deleted, m.pruned, m.prunedBytes, m.duration,
		m.errors, m.skipped, m.running, m.next, m.throttled, m.reloads, m.replicas, m.replicaOK, info,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func gauge(name, help string, labels []string) *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mailkeep_" + name, Help: help}, labels)
}

func counter(name, help string, labels []string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailkeep_" + name, Help: help}, labels)
}

// setAccounts makes the scheduled accounts of set the ones the metrics
// cover, and drops the others' series.
func (m *metrics) setAccounts(set schedule.Settings) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.accounts
	m.accounts = map[string]bool{}
	for _, a := range set.Accounts {
		if a.Schedule.IsZero() {
			continue
		}
		m.accounts[a.Name] = true
		m.initSeries(a.Name)
	}
	for name := range old {
		if !m.accounts[name] {
			m.forget(name)
		}
	}
}

// initSeries makes an account's series exist from the start, so that
// rate() and absence alerts work before its first run.
func (m *metrics) initSeries(name string) {
	for _, o := range outcomes {
		m.runs.WithLabelValues(name, o)
		m.lastOutcome.WithLabelValues(name, o)
	}
	for _, r := range []string{schedule.SkipOverlap, schedule.SkipBusy, schedule.SkipThrottled} {
		m.skipped.WithLabelValues(name, r)
	}
	m.messages.WithLabelValues(name)
	m.bytes.WithLabelValues(name)
	m.deleted.WithLabelValues(name)
	m.pruned.WithLabelValues(name)
	m.prunedBytes.WithLabelValues(name)
	m.errors.WithLabelValues(name)
	m.running.WithLabelValues(name)
	m.throttled.WithLabelValues(name)
}

func (m *metrics) forget(name string) {
	l := prometheus.Labels{"account": name}
	for _, v := range []interface{ DeletePartialMatch(prometheus.Labels) int }{m.lastSuccess, m.lastRun,
		m.lastOutcome, m.runs, m.messages, m.bytes, m.deleted, m.pruned, m.prunedBytes, m.duration, m.errors, m.skipped,
		m.running, m.next, m.throttled, m.replicas, m.replicaOK} {
		v.DeletePartialMatch(l)
	}
}

// seed reads each account's last run and last success from its catalog,
// so that a restarted agent reports them before its first run.
func (m *metrics) seed(ctx context.Context, root string, log *slog.Logger) {
	m.mu.Lock()
	names := make([]string, 0, len(m.accounts))
	for name := range m.accounts {
		names = append(names, name)
	}
	m.mu.Unlock()
	for _, name := range names {
		last, ok, err := readHistory(ctx, root, name)
		switch {
		case errors.Is(err, archive.ErrNoArchive):
		case err != nil:
			log.Warn("cannot read the account's last runs", "account", name, "err", err)
		case ok:
			m.setLast(name, last.last.Outcome, last.last.Ended)
			if !last.success.Ended.IsZero() {
				m.setSuccess(name, last.success.Ended)
			}
			m.setThrottled(name, last.throttle.Until)
		}
	}
}

// observeReplica records one replication of an account to a replica.
func (m *metrics) observeReplica(name, replica string, err error, now time.Time) {
	outcome := archive.OutcomeOK
	switch {
	case errors.Is(err, replicate.ErrPartial):
		outcome = archive.OutcomePartial
	case err != nil:
		outcome = archive.OutcomeFailed
	}
	m.replicas.WithLabelValues(name, replica, outcome).Inc()
	if outcome != archive.OutcomeFailed {
		m.replicaOK.WithLabelValues(name, replica).Set(float64(now.Unix()))
	}
}

// observeRun records one run (one attempt) of an account.
func (m *metrics) observeRun(name string, res backup.Result, err error, now time.Time) {
	if errors.Is(err, archive.ErrBusy) {
		return // not a run: the scheduler counts the skip
	}
	outcome := res.Outcome
	if res.RunID == 0 {
		outcome = archive.OutcomeFailed
		if errors.Is(err, context.Canceled) {
			outcome = archive.OutcomeInterrupted
		}
	}
	m.runs.WithLabelValues(name, outcome).Inc()
	m.messages.WithLabelValues(name).Add(float64(res.Stats.NewMessages))
	m.bytes.WithLabelValues(name).Add(float64(res.Stats.NewBytes))
	m.deleted.WithLabelValues(name).Add(float64(res.Stats.ServerDeleted))
	m.errors.WithLabelValues(name).Add(float64(res.Stats.Errors))
	if outcome == archive.OutcomeFailed {
		m.errors.WithLabelValues(name).Inc()
	}
	if res.RunID != 0 {
		m.duration.WithLabelValues(name).Observe(res.Duration.Seconds())
	}
	m.setLast(name, outcome, now)
	if outcome == archive.OutcomeOK || outcome == archive.OutcomePartial {
		m.setSuccess(name, now)
	}
	if res.RunID != 0 {
		m.setThrottled(name, res.Throttle.Until)
	}
}

// setThrottled records until when the server asked to be left alone;
// zero: it did not.
func (m *metrics) setThrottled(name string, until time.Time) {
	v := 0.0
	if !until.IsZero() {
		v = unixSeconds(until)
	}
	m.throttled.WithLabelValues(name).Set(v)
}

// observePrune records a prune after a backup: what it took, or its
// failure (among the account's errors).
func (m *metrics) observePrune(name string, res archive.PruneResult, err error) {
	m.pruned.WithLabelValues(name).Add(float64(res.Messages))
	m.prunedBytes.WithLabelValues(name).Add(float64(res.Bytes))
	if err != nil && !errors.Is(err, archive.ErrBusy) {
		m.errors.WithLabelValues(name).Inc()
	}
}

func (m *metrics) setLast(name, outcome string, ended time.Time) {
	for _, o := range outcomes {
		v := 0.0
		if o == outcome {
			v = 1
		}
		m.lastOutcome.WithLabelValues(name, o).Set(v)
	}
	if !ended.IsZero() {
		m.lastRun.WithLabelValues(name).Set(unixSeconds(ended))
	}
}

func (m *metrics) setSuccess(name string, at time.Time) {
	m.lastSuccess.WithLabelValues(name).Set(unixSeconds(at))
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func (m *metrics) reloaded(ok bool) {
	result := "ok"
	if !ok {
		result = "failed"
	}
	m.reloads.WithLabelValues(result).Inc()
}

// Scheduled, Skipped and Running implement schedule.Observer.
func (m *metrics) Scheduled(name string, next time.Time) {
	m.next.WithLabelValues(name).Set(unixSeconds(next))
}

func (m *metrics) Skipped(name, reason string) { m.skipped.WithLabelValues(name, reason).Inc() }

func (m *metrics) Running(name string, running bool) {
	v := 0.0
	if running {
		v = 1
	}
	m.running.WithLabelValues(name).Set(v)
}

// handler serves /metrics and /healthz, which judges the accounts of the
// configuration cfg returns by the health rule.
func (m *metrics) handler(log *slog.Logger, cfg func() *config.Config) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn), Registry: m.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if bad := Unhealthy(r.Context(), cfg(), time.Now()); len(bad) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, strings.Join(bad, "\n"))
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// serveMetrics listens on addr and serves h until Shutdown.
func serveMetrics(addr string, h http.Handler, log *slog.Logger) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("agent.metrics: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	log.Info("serving /metrics and /healthz", "addr", ln.Addr().String())
	return srv, nil
}

// serving registers the metrics of the IMAP server.
func (m *metrics) serving() {
	m.sessions = prometheus.NewGauge(prometheus.GaugeOpts{Name: "mailkeep_serve_sessions",
		Help: "IMAP sessions of serve open now."})
	m.sessionsTotal = prometheus.NewCounter(prometheus.CounterOpts{Name: "mailkeep_serve_sessions_total",
		Help: "IMAP sessions of serve opened."})
	m.logins = counter("serve_logins_total", "IMAP logins to serve, by result (ok or failed).", []string{"result"})
	m.logins.WithLabelValues("ok")
	m.logins.WithLabelValues("failed")
	m.reg.MustRegister(m.sessions, m.sessionsTotal, m.logins)
}

// SessionOpened, SessionClosed and Login implement serve.Observer.
func (m *metrics) SessionOpened() {
	m.sessions.Inc()
	m.sessionsTotal.Inc()
}

func (m *metrics) SessionClosed() { m.sessions.Dec() }

func (m *metrics) Login(ok bool) {
	result := "ok"
	if !ok {
		result = "failed"
	}
	m.logins.WithLabelValues(result).Inc()
}
