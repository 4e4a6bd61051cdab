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

// progress shows a backup's progress: a bar on a terminal, debug log lines
// otherwise. It implements backup.Progress.
type progress struct {
	mu     sync.Mutex
	bar    *progressbar.ProgressBar
	log    *slog.Logger
	name   string
	msgs   int
	folder string
}

func newProgress(w io.Writer, name string, enabled bool, log *slog.Logger) *progress {
	p := &progress{log: log, name: name}
	if f, ok := w.(*os.File); enabled && ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions64(-1, progressbar.OptionSetWriter(w), progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription(name), progressbar.OptionThrottle(100e6),
			progressbar.OptionClearOnFinish(), progressbar.OptionSpinnerType(14))
	}
	return p
}

func (p *progress) Folder(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.folder = name
	p.log.Debug("syncing folder", "account", p.name, "folder", name)
	p.describe()
}

func (p *progress) Message(bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs++
	if p.bar != nil {
		p.bar.Add64(bytes)
		p.describe()
	}
}

func (p *progress) describe() {
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("%s: %d messages, %s", p.name, p.msgs, p.folder))
	}
}

// Done removes the bar.
func (p *progress) Done() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
