// Package progress is what a long job tells its user while it works: the
// Sink that backup, restore and the other jobs report to, and the display
// that shows it on a terminal (a bar or a spinner with the message count
// and the current folder) or, elsewhere, as debug log lines.
package progress

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Sink receives a job's progress. It must be safe for concurrent use.
type Sink interface {
	// Start announces what the job covers, when it knows that before it
	// begins: a bar then shows how far it is.
	Start(messages int, bytes int64)
	// Folder reports that a folder's work begins.
	Folder(name string)
	// Message reports one message done (stored, sent, checked or failed).
	Message(bytes int64)
}

// Nop discards progress.
type Nop struct{}

func (Nop) Start(int, int64) {}
func (Nop) Folder(string)    {}
func (Nop) Message(int64)    {}

// Display shows progress: on a terminal a spinner that becomes a bar once
// Start gives the total, with the count of messages and the folder; debug
// log lines otherwise.
type Display struct {
	mu     sync.Mutex
	w      io.Writer
	on     bool
	bar    *progressbar.ProgressBar
	log    *slog.Logger
	name   string
	what   string // the debug line when a folder starts, such as "syncing folder"
	attrs  []any  // its attributes before the folder's
	done   int
	total  int // -1 while unknown
	folder string
}

// New returns a Display for the job called name (an account, "a → b"),
// writing to w when enabled and w is a terminal. what is the debug log
// line for each folder, attrs its attributes.
func New(w io.Writer, name string, enabled bool, log *slog.Logger, what string, attrs ...any) *Display {
	d := &Display{w: w, on: enabled && onTerminal(w), log: log, name: name, what: what, attrs: attrs, total: -1}
	if d.on {
		d.bar = progressbar.NewOptions64(-1, progressbar.OptionSetWriter(w), progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription(name), progressbar.OptionThrottle(100e6),
			progressbar.OptionClearOnFinish(), progressbar.OptionSpinnerType(14))
	}
	return d
}

func (d *Display) Start(messages int, bytes int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.total = messages
	d.log.Debug("starting", "job", d.name, "messages", messages, "bytes", bytes)
	if d.on {
		d.bar = progressbar.NewOptions64(bytes, progressbar.OptionSetWriter(d.w), progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription(d.name), progressbar.OptionThrottle(100e6),
			progressbar.OptionClearOnFinish())
	}
}

func (d *Display) Folder(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.folder = name
	d.log.Debug(d.what, append(d.attrs, "folder", name)...)
	d.describe()
}

func (d *Display) Message(bytes int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.done++
	if d.bar != nil {
		d.bar.Add64(bytes)
		d.describe()
	}
}

func (d *Display) describe() {
	if d.bar == nil {
		return
	}
	count := fmt.Sprint(d.done)
	if d.total >= 0 {
		count += fmt.Sprintf("/%d", d.total)
	}
	d.bar.Describe(fmt.Sprintf("%s: %s messages, %s", d.name, count, d.folder))
}

// Done removes the display.
func (d *Display) Done() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.bar != nil {
		d.bar.Finish()
	}
}

// onTerminal reports whether w is a terminal.
func onTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
