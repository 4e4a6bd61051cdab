package serve

import (
	"bytes"
	"net"
	"strconv"
)

// go-imap v2 (beta.8) ends every SELECT with "OK [READ-WRITE]", whatever
// the backend says, and has no hook to change it. A client told that it
// may write would try to, so every connection's output passes through
// readOnlyConn, which turns the tagged "OK [READ-WRITE]" of a SELECT into
// "OK [READ-ONLY]": SELECT is answered as EXAMINE. Nothing else changes.
//
// The rewriter follows the server's output line by line. A line that ends
// in a literal announcement ("{123}" before CRLF) is followed by that many
// bytes of data (a message body, say), which pass unseen: the server
// writes every literal whole, so the count is exact. At the start of a
// line it holds back at most len(statusReadWrite) bytes, and only while they
// match, so it never delays a response: the server writes each line whole
// before it waits for the client.

var (
	statusReadWrite = []byte("OK [READ-WRITE]")
	statusReadOnly  = []byte("OK [READ-ONLY]")
)

// readOnlyConn is a server connection whose output is rewritten so.
type readOnlyConn struct {
	net.Conn
	out rewriter
}

func (c *readOnlyConn) Write(p []byte) (int, error) {
	if _, err := c.Conn.Write(c.out.rewrite(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// rewriter states.
const (
	atLineStart = iota // the first token (tag, "*" or "+") is next
	inFirstToken
	afterTag // the first token was a tag: the status may follow
	inLine
	inLiteral
)

type rewriter struct {
	state    int
	untagged bool   // the line's first token is "*" or "+"
	held     []byte // bytes after a tag that match readWrite so far
	tail     []byte // the last bytes of the line, for a literal at its end
	literal  int64  // literal bytes still to pass
	buf      []byte
}

// rewrite returns the bytes to send for p; it may hold some back.
func (r *rewriter) rewrite(p []byte) []byte {
	if r.state == inLiteral && int64(len(p)) <= r.literal { // message data: passed as it is
		r.literal -= int64(len(p))
		if r.literal == 0 {
			r.state = inLine
		}
		return p
	}
	r.buf = r.buf[:0]
	for len(p) > 0 {
		switch r.state {
		case inLiteral:
			n := min(int64(len(p)), r.literal)
			r.buf = append(r.buf, p[:n]...)
			p, r.literal = p[n:], r.literal-n
			if r.literal == 0 {
				r.state = inLine
			}
		case inLine:
			p = r.lineBytes(p)
		default:
			r.lineStart(p[0])
			p = p[1:]
		}
	}
	return r.buf
}

// lineStart takes one byte at the start of a line, up to the status.
func (r *rewriter) lineStart(b byte) {
	switch r.state {
	case atLineStart:
		r.untagged = b == '*' || b == '+'
		r.tail = r.tail[:0]
		r.state = inFirstToken
		r.emit(b)
		if b == '\n' {
			r.state = atLineStart
		}
	case inFirstToken:
		r.emit(b)
		switch {
		case b == '\n':
			r.state = atLineStart
		case b == ' ' && r.untagged:
			r.state = inLine
		case b == ' ':
			r.state = afterTag
		}
	case afterTag:
		r.held = append(r.held, b)
		switch {
		case !bytes.HasPrefix(statusReadWrite, r.held):
			r.flushHeld(r.held)
		case len(r.held) == len(statusReadWrite):
			r.flushHeld(statusReadOnly)
		}
	}
}

func (r *rewriter) flushHeld(b []byte) {
	held := r.held
	r.held = r.held[:0]
	r.state = inLine
	for _, c := range b {
		r.emit(c)
	}
	if len(held) > 0 && held[len(held)-1] == '\n' {
		r.endLine()
	}
}

// emit sends one byte of the current line and remembers it in the tail.
func (r *rewriter) emit(b byte) {
	r.buf = append(r.buf, b)
	r.remember([]byte{b})
}

const tailLen = 24 // "{" + 20 digits + "}" + CRLF fits

func (r *rewriter) remember(b []byte) {
	if len(b) >= tailLen {
		r.tail = append(r.tail[:0], b[len(b)-tailLen:]...)
		return
	}
	r.tail = append(r.tail, b...)
	if over := len(r.tail) - tailLen; over > 0 {
		r.tail = append(r.tail[:0], r.tail[over:]...)
	}
}

// lineBytes passes bytes of a line up to and including its LF.
func (r *rewriter) lineBytes(p []byte) []byte {
	i := bytes.IndexByte(p, '\n')
	if i < 0 {
		r.buf = append(r.buf, p...)
		r.remember(p)
		return nil
	}
	r.buf = append(r.buf, p[:i+1]...)
	r.remember(p[:i+1])
	r.endLine()
	return p[i+1:]
}

// endLine is called after a line's LF: a literal may follow.
func (r *rewriter) endLine() {
	r.state = atLineStart
	if n, ok := literalAtEnd(r.tail); ok {
		r.literal = n
		r.state = inLine
		if n > 0 {
			r.state = inLiteral
		}
	}
	r.tail = r.tail[:0]
}

// literalAtEnd reads "{n}\r\n" at the end of line.
func literalAtEnd(line []byte) (int64, bool) {
	line, ok := bytes.CutSuffix(line, []byte("}\r\n"))
	if !ok {
		return 0, false
	}
	i := bytes.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(line[i+1:]), 10, 64)
	return n, err == nil && n >= 0
}

// readOnlyListener hands out readOnlyConns.
type readOnlyListener struct{ net.Listener }

func (l readOnlyListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &readOnlyConn{Conn: c}, nil
}
