package agent

import (
	"context"
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// watchdog pings systemd's watchdog at half its interval, as long as the
// scheduler's loop answers.
func (a *Agent) watchdog(ctx context.Context) {
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
