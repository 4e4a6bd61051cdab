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

// barProgress is what backup and restore progress share: on a terminal a
// bar (made by the owner) with a count of messages and the current folder,
// debug log lines otherwise.
type barProgress struct {
	mu        sync.Mutex
	bar       *progressbar.ProgressBar
	log       *slog.Logger
	name      string
	folderLog string // the debug line when a folder starts
	logAttrs  []any  // and its attributes before the folder's
	done      int
	total     int // -1 while unknown
	folder    string
}

func (p *barProgress) Folder(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.folder = name
	p.log.Debug(p.folderLog, append(p.logAttrs, "folder", name)...)
	p.describe()
}

func (p *barProgress) Message(bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	if p.bar != nil {
		p.bar.Add64(bytes)
		p.describe()
	}
}

func (p *barProgress) describe() {
	if p.bar == nil {
		return
	}
	count := fmt.Sprint(p.done)
	if p.total >= 0 {
		count += fmt.Sprintf("/%d", p.total)
	}
	p.bar.Describe(fmt.Sprintf("%s: %s messages, %s", p.name, count, p.folder))
}

// Done removes the bar.
func (p *barProgress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Finish()
	}
}

// onTerminal reports whether w is a terminal.
func onTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress shows a backup's progress. It implements backup.Progress.
type progress struct{ barProgress }

func newProgress(w io.Writer, name string, enabled bool, log *slog.Logger) *progress {
	p := &progress{barProgress{log: log, name: name, folderLog: "syncing folder", logAttrs: []any{"account", name}, total: -1}}
	if enabled && onTerminal(w) {
		p.bar = progressbar.NewOptions64(-1, progressbar.OptionSetWriter(w), progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription(name), progressbar.OptionThrottle(100e6),
			progressbar.OptionClearOnFinish(), progressbar.OptionSpinnerType(14))
	}
	return p
}
