package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// restoreProgress shows a restore's progress: on a terminal a bar over the
// bytes of all messages (appended, already present or failed alike),
// debug log lines otherwise. It implements restore.Progress.
type restoreProgress struct {
	mu     sync.Mutex
	w      io.Writer
	on     bool
	bar    *progressbar.ProgressBar
	log    *slog.Logger
	name   string
	done   int
	total  int
	folder string
}

func newRestoreProgress(w io.Writer, name string, enabled bool, log *slog.Logger) *restoreProgress {
	f, ok := w.(*os.File)
	return &restoreProgress{w: w, log: log, name: name, on: enabled && ok && term.IsTerminal(int(f.Fd()))}
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

func (p *restoreProgress) Folder(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.folder = name
	p.log.Debug("restoring folder", "folder", name)
	p.describe()
}

func (p *restoreProgress) Message(bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	if p.bar != nil {
		p.bar.Add64(bytes)
		p.describe()
	}
}

func (p *restoreProgress) describe() {
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("%s: %d/%d messages, %s", p.name, p.done, p.total, p.folder))
	}
}

// Done removes the bar.
func (p *restoreProgress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Finish()
	}
}
