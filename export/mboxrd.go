package export

import (
	"bytes"
	"io"
	"net/mail"
	"strings"
	"time"
)

// mboxrd, as mutt, Thunderbird and Python's mailbox read it: each message
// is a "From " line, the message, and an empty line. A message line that
// begins with any number of '>' and then "From " gets one more '>', so
// that no line of a message can be taken for a separator and a reader
// gets the message back by removing one '>' from each line that begins
// with '>'s and "From ". A message that does not end in a newline gets one
// ("\n"), without which its last line would run into the empty line.

// fromLine is the separator line before a message: the envelope sender
// and the INTERNALDATE in UTC, in asctime form.
func fromLine(sender string, date time.Time) string {
	return "From " + sender + " " + date.UTC().Format(time.ANSIC) + "\n"
}

// quoter writes one message into an mbox, quoting its "From " lines. Call
// reset before each message and end after it.
type quoter struct {
	w     io.Writer
	start bool  // at the start of a line
	gt    int64 // '>' at the start of the current line, held back
	from  int   // bytes of "From " matched after them, held back
	last  byte  // the message's last byte so far
	empty bool  // nothing of the message written yet
}

const fromPrefix = "From "

var quotes = bytes.Repeat([]byte{'>'}, 64)

func (q *quoter) reset(w io.Writer) {
	*q = quoter{w: w, start: true, empty: true}
}

// Write quotes p, a piece of the message. Lines that cannot need a quote
// pass in one write with the lines around them.
func (q *quoter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	q.last, q.empty = p[len(p)-1], false
	n := len(p)
	for len(p) > 0 {
		if q.start {
			var err error
			if p, err = q.lineStart(p); err != nil {
				return 0, err
			}
			continue
		}
		i := nextLineStart(p)
		if _, err := q.w.Write(p[:i]); err != nil {
			return 0, err
		}
		q.start = p[i-1] == '\n'
		p = p[i:]
	}
	return n, nil
}

// nextLineStart returns the index just after the first newline of p that
// is followed by '>' or 'F' or ends p, or len(p).
func nextLineStart(p []byte) int {
	i := 0
	for {
		j := bytes.IndexByte(p[i:], '\n')
		if j < 0 {
			return len(p)
		}
		i += j + 1
		if i == len(p) || p[i] == '>' || p[i] == 'F' {
			return i
		}
	}
}

// lineStart consumes what it can of p at the start of a line: '>'s, then
// "From ". It returns the rest of p.
func (q *quoter) lineStart(p []byte) ([]byte, error) {
	for len(p) > 0 {
		c := p[0]
		switch {
		case q.from == 0 && c == '>':
			q.gt++
		case c == fromPrefix[q.from]:
			q.from++
			if q.from == len(fromPrefix) {
				q.gt++ // the quote
				return p[1:], q.release()
			}
		default:
			return p, q.release()
		}
		p = p[1:]
	}
	return p, nil
}

// release writes what lineStart held back and leaves the line start.
func (q *quoter) release() error {
	q.start = false
	if q.gt == 0 && q.from == 0 {
		return nil
	}
	for q.gt > 0 {
		n := min(q.gt, int64(len(quotes)))
		if _, err := q.w.Write(quotes[:n]); err != nil {
			return err
		}
		q.gt -= n
	}
	_, err := io.WriteString(q.w, fromPrefix[:q.from])
	q.from = 0
	return err
}

// end finishes the message: what is held back, a newline if the message
// did not end in one (reported by added), and the empty line after it.
func (q *quoter) end() (added bool, err error) {
	if q.start {
		if err := q.release(); err != nil {
			return false, err
		}
	}
	tail := "\n"
	if added = q.empty || q.last != '\n'; added {
		tail = "\n\n"
	}
	_, err = io.WriteString(q.w, tail)
	return added, err
}

// mailerDaemon is the envelope sender of a message that names none.
const mailerDaemon = "MAILER-DAEMON"

// envelopeSender is the address for the "From " line: the Return-Path's,
// else the first From address, else MAILER-DAEMON. head is the start of
// the message; a header longer than head is read as far as it goes.
func envelopeSender(head []byte) string {
	var from string
	for name, value := range headerFields(head) {
		switch {
		case strings.EqualFold(name, "Return-Path"):
			if a := strings.Trim(strings.TrimSpace(value), "<>"); a == "" {
				return mailerDaemon // the null sender: a bounce
			} else if senderToken(a) {
				return a
			}
		case strings.EqualFold(name, "From") && from == "":
			from = value
		}
	}
	if a := fromAddress(from); senderToken(a) {
		return a
	}
	return mailerDaemon
}

// fromAddress is the first address of a From field, or "".
func fromAddress(v string) string {
	if list, err := mail.ParseAddressList(v); err == nil && len(list) > 0 {
		return list[0].Address
	}
	if i := strings.LastIndexByte(v, '<'); i >= 0 {
		v = v[i+1:]
		if j := strings.IndexByte(v, '>'); j >= 0 {
			v = v[:j]
		}
	}
	return strings.TrimSpace(v)
}

// senderToken reports whether a can stand in a "From " line: one word of
// printable bytes (UTF-8 allowed), with an '@', of a sane length.
func senderToken(a string) bool {
	if len(a) < 3 || len(a) > 256 || !strings.Contains(a, "@") {
		return false
	}
	for i := 0; i < len(a); i++ {
		if c := a[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// headerFields yields the fields of the header at the start of msg,
// unfolded, up to the empty line that ends it (or the end of msg). Lines
// that are not fields are skipped.
func headerFields(msg []byte) func(yield func(name, value string) bool) {
	return func(yield func(name, value string) bool) {
		var name, value string
		have := false
		for len(msg) > 0 {
			line, rest, _ := bytes.Cut(msg, []byte("\n"))
			msg = rest
			line = bytes.TrimSuffix(line, []byte("\r"))
			if len(line) == 0 {
				break
			}
			if line[0] == ' ' || line[0] == '\t' {
				if have {
					value += " " + strings.TrimSpace(string(line))
				}
				continue
			}
			if have && !yield(name, value) {
				return
			}
			n, v, ok := bytes.Cut(line, []byte(":"))
			name, value, have = string(bytes.TrimSpace(n)), strings.TrimSpace(string(v)), ok
		}
		if have {
			yield(name, value)
		}
	}
}
