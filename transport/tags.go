package transport

import (
	"bytes"
	"strconv"
)

// tagScanner follows one direction of an IMAP stream and counts the lines
// that begin with a tag: on the client's side the commands, on the
// server's side their completions (RFC 9051, section 2.2.1). Together they
// tell idleConn whether an answer is owed. Literals, announced as {N} or
// {N+} at the end of a line, are skipped, so message data never counts.
//
// A server's free text that merely ends in something like "{5}" makes the
// scanner skip bytes that were no literal, and the count may drift. The
// worst that does is what happens without the scanner: a wait bounded only
// by the backup's stall watchdog, or an idle connection given up as silent.
type tagScanner struct {
	tagged  func(word []byte) bool // whether a line's first word is a tag
	literal int64                  // bytes of a literal still to skip
	word    []byte                 // the line's first word, while undecided
	decided bool                   // the first word is complete
	tail    []byte                 // the line's last bytes, to find {N}
}

const (
	maxTagLen = 32 // a longer first word is no tag
	tailLen   = 24 // room for "{" + 20 digits + "+}\r"
)

// scan reads p, the next bytes of the stream, and returns how many tagged
// lines began in it.
func (s *tagScanner) scan(p []byte) int {
	n := 0
	for len(p) > 0 {
		if s.literal > 0 {
			k := min(int64(len(p)), s.literal)
			s.literal -= k
			p = p[k:]
			continue
		}
		for !s.decided && len(p) > 0 && p[0] != '\n' {
			n += s.first(p[0])
			s.keep(p[:1])
			p = p[1:]
		}
		end := bytes.IndexByte(p, '\n')
		if end < 0 {
			s.keep(p)
			break
		}
		s.keep(p[:end])
		p = p[end+1:]
		if size, ok := literalSize(s.tail); ok {
			s.literal, s.tail = size, s.tail[:0] // the line goes on after it
			continue
		}
		s.word, s.decided, s.tail = s.word[:0], false, s.tail[:0]
	}
	return n
}

// first takes byte b of the line's first word, and returns 1 when b ends a
// word that is a tag.
func (s *tagScanner) first(b byte) int {
	if b != ' ' && b != '\r' && len(s.word) < maxTagLen {
		s.word = append(s.word, b)
		return 0
	}
	s.decided = true
	if b == ' ' && s.tagged(s.word) {
		return 1
	}
	return 0
}

// keep remembers the line's last tailLen bytes, b being the latest.
func (s *tagScanner) keep(b []byte) {
	if len(b) >= tailLen {
		s.tail = append(s.tail[:0], b[len(b)-tailLen:]...)
		return
	}
	if len(s.tail)+len(b) > 2*tailLen {
		s.tail = append(s.tail[:0], s.tail[len(s.tail)-tailLen:]...)
	}
	s.tail = append(s.tail, b...)
}

// literalSize parses a literal's announcement at the end of a line
// (without its LF): "{N}", "{N+}" or "{N-}", then an optional CR.
func literalSize(line []byte) (int64, bool) {
	n := len(line)
	if n > 0 && line[n-1] == '\r' {
		n--
	}
	if n < 3 || line[n-1] != '}' {
		return 0, false
	}
	end := n - 1
	if line[end-1] == '+' || line[end-1] == '-' {
		end--
	}
	start := end
	for start > 0 && line[start-1] >= '0' && line[start-1] <= '9' {
		start--
	}
	if start == end || start == 0 || line[start-1] != '{' {
		return 0, false
	}
	size, err := strconv.ParseInt(string(line[start:end]), 10, 64)
	return size, err == nil
}

// clientTag reports a tag as go-imap writes them: "T" and a number.
func clientTag(word []byte) bool {
	if len(word) < 2 || word[0] != 'T' {
		return false
	}
	for _, b := range word[1:] {
		if b < '0' || b > '9' {
			return false
		}
	}
	return true
}

// serverTag reports a tagged response: any first word but "*" (untagged)
// and "+" (a continuation request).
func serverTag(word []byte) bool {
	return len(word) > 0 && string(word) != "*" && string(word) != "+"
}
