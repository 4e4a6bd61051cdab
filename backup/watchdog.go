package backup

import (
	"sync/atomic"
	"time"
)

// DefaultStallTimeout is how long a folder may go without progress (message
// bytes or results received) before its connection is given up.
const DefaultStallTimeout = 5 * time.Minute

// watchdog ends a folder's sync when the server keeps talking but delivers
// nothing: the idle timeout catches a silent server, the watchdog one that
// sends endless responses that carry no messages.
type watchdog struct {
	last  atomic.Int64 // unix nanoseconds of the last progress
	fired atomic.Bool
	stop  chan struct{}
}

// watch starts a watchdog that calls giveUp when no progress was made for
// stall. Call done when the folder is finished.
func watch(stall time.Duration, giveUp func()) *watchdog {
	d := &watchdog{stop: make(chan struct{})}
	d.touch()
	go d.run(stall, giveUp)
	return d
}

func (d *watchdog) run(stall time.Duration, giveUp func()) {
	tick := time.NewTicker(max(stall/8, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-d.stop:
			return
		case now := <-tick.C:
			if now.Sub(time.Unix(0, d.last.Load())) > stall {
				d.fired.Store(true)
				giveUp()
				return
			}
		}
	}
}

// touch records progress. It is safe to call on a nil watchdog.
func (d *watchdog) touch() {
	if d != nil {
		d.last.Store(time.Now().UnixNano())
	}
}

func (d *watchdog) done() { close(d.stop) }
