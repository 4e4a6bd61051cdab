package main

import (
	"io"
	"log/slog"

	"github.com/schollz/progressbar/v3"
)

// restoreProgress shows a restore's progress: on a terminal a bar over the
// bytes of all messages (appended, already present or failed alike),
// debug log lines otherwise. It implements restore.Progress.
type restoreProgress struct {
	barProgress
	w  io.Writer
	on bool
}

func newRestoreProgress(w io.Writer, name string, enabled bool, log *slog.Logger) *restoreProgress {
	return &restoreProgress{barProgress: barProgress{log: log, name: name, folderLog: "restoring folder", total: -1},
		w: w, on: enabled && onTerminal(w)}
}

func (p *restoreProgress) Start(messages int, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total = messages
	p.log.Debug("restore starts", "messages", messages, "bytes", bytes)
	if p.on {
		p.bar = progressbar.NewOptions64(bytes, progressbar.OptionSetWriter(p.w), progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription(p.name), progressbar.OptionThrottle(100e6),
			progressbar.OptionClearOnFinish())
	}
}
