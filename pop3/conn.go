package pop3

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// timeoutConn gives every Read and Write its own deadline, so that a
// server that stops sending (or reading) fails the call after d, while a
// long transfer that keeps moving never does.
type timeoutConn struct {
	net.Conn
	d time.Duration
}

func (c *timeoutConn) Read(p []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.d)); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *timeoutConn) Write(p []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.d)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// readLine reads one line that is not message data, without its line end
// (CRLF, or a bare LF from a broken server). A line longer than maxLineLen
// is an error: the client does not grow memory for a hostile server.
func (c *Client) readLine() (string, error) {
	line, err := c.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || len(line) > maxLineLen {
		return "", fmt.Errorf("%w: response line longer than %d bytes", errProtocol, maxLineLen)
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return "", fmt.Errorf("read response: %w", err)
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(line), "\n"), "\r")
	c.tracef("S: %s", s)
	return s, nil
}

// readStatus reads a status line and turns -ERR into a *ServerError for cmd.
// It returns the text after +OK.
func (c *Client) readStatus(cmd string) (string, error) {
	line, err := c.readLine()
	if err != nil {
		return "", err
	}
	st, text, err := parseStatus(line)
	switch {
	case err != nil:
		return "", err
	case st == statusErr:
		return "", newServerError(cmd, text)
	case st == statusCont:
		return "", fmt.Errorf("%w: unexpected continuation line to %s", errProtocol, cmd)
	}
	return text, nil
}

// readMultiLine reads the lines of a multi-line listing (CAPA, LIST,
// UIDL) up to the terminating ".", removes dot-stuffing and hands each line
// to fn. More than max lines is an error.
func (c *Client) readMultiLine(max int, fn func(line string) error) error {
	for n := 0; ; n++ {
		line, err := c.readLine()
		if err != nil {
			return err
		}
		if line == "." {
			return nil
		}
		if n == max {
			return fmt.Errorf("%w: listing longer than %d lines", errProtocol, max)
		}
		if err := fn(strings.TrimPrefix(line, ".")); err != nil {
			return err
		}
	}
}

// command sends a command and reads its status line, returning the text
// after +OK. Arguments must not hold CR, LF or NUL.
func (c *Client) command(verb string, args ...string) (string, error) {
	if err := c.send(verb, args...); err != nil {
		return "", err
	}
	return c.readStatus(verb)
}

// send writes one command line. The trace shows PASS and AUTH arguments as
// "***" (AUTH keeps its mechanism name).
func (c *Client) send(verb string, args ...string) error {
	if err := c.queue(verb, args...); err != nil {
		return err
	}
	return c.flush()
}

// queue buffers one command line without sending it; flush sends what is
// buffered.
func (c *Client) queue(verb string, args ...string) error {
	for _, a := range args {
		if strings.ContainsAny(a, "\r\n\x00") {
			return fmt.Errorf("%w: %s argument holds CR, LF or NUL", errBadArgument, verb)
		}
	}
	line := strings.Join(append([]string{verb}, args...), " ")
	switch {
	case verb == "PASS" && len(args) > 0:
		c.tracef("C: PASS ***")
	case verb == "AUTH" && len(args) > 1:
		c.tracef("C: AUTH %s ***", args[0])
	default:
		c.tracef("C: %s", line)
	}
	c.w.WriteString(line)
	c.w.WriteString("\r\n")
	return nil
}

func (c *Client) flush() error {
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("send command: %w", err)
	}
	return nil
}

// sendSecret writes a line that must not appear in the trace (a SASL
// response).
func (c *Client) sendSecret(line string) error {
	c.tracef("C: ***")
	return c.writeLine(line)
}

func (c *Client) writeLine(line string) error {
	c.w.WriteString(line)
	c.w.WriteString("\r\n")
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("send command: %w", err)
	}
	return nil
}

// tracef writes one line to the protocol trace, if there is one. Trace
// write errors are ignored: the trace is a diagnostic aid.
func (c *Client) tracef(format string, args ...any) {
	if c.trace != nil {
		fmt.Fprintf(c.trace, format+"\n", args...)
	}
}

// itoa formats a message number or count for a command.
func itoa(n int) string { return strconv.Itoa(n) }
