package pop3

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// pipelineWindow is how many commands RetrEach, TopEach and DeleEach send
// ahead of the answers read so far when the server advertises PIPELINING
// (RFC 2449). A few dozen short command lines always fit in the socket
// buffers, so the client never blocks writing commands while the server
// blocks writing answers that the client has not read yet.
const pipelineWindow = 32

// Pipelining reports whether the server advertised PIPELINING, so that
// RetrEach, TopEach and DeleEach send commands ahead of the answers.
func (c *Client) Pipelining() bool {
	_, ok := c.caps["PIPELINING"]
	return ok
}

// BodyFunc receives one message of RetrEach or TopEach. When the server
// answered the command with -ERR, body is nil and err says why (a
// *ServerError); the session is still usable and returning nil goes on with
// the next message. Otherwise body yields the message data exactly as Retr
// writes it, up to io.EOF; fn need not read all of it. Returning an error
// stops the retrieval and ends the session without QUIT.
type BodyFunc func(num int, body io.Reader, err error) error

// RetrEach retrieves the messages nums in order and hands each to fn. With
// PIPELINING it keeps up to 32 RETR commands in flight, which saves a round
// trip per message; without it, it sends one RETR at a time. Memory use
// does not depend on message sizes: fn reads each body from the connection.
//
// It returns fn's error as is, or an error reading from the server; either
// ends the session without QUIT.
func (c *Client) RetrEach(ctx context.Context, nums []int, fn BodyFunc) error {
	return c.bodyEach(ctx, "RETR", nums, nil, fn)
}

// TopEach sends TOP num lines for each of nums, as RetrEach sends RETR.
func (c *Client) TopEach(ctx context.Context, nums []int, lines int, fn BodyFunc) error {
	return c.bodyEach(ctx, "TOP", nums, []int{lines}, fn)
}

func (c *Client) bodyEach(ctx context.Context, verb string, nums []int, more []int, fn BodyFunc) error {
	args, err := eachArgs(nums, more)
	if err != nil {
		return fmt.Errorf("pop3: %s: %w", strings.ToLower(verb), err)
	}
	return c.do(ctx, func() error {
		return c.pipeline(verb, args, func(i int) error { return c.bodyAnswer(verb, nums[i], fn) })
	})
}

// eachArgs formats the arguments of one command per message number.
func eachArgs(nums []int, more []int) ([][]string, error) {
	out := make([][]string, len(nums))
	for i, num := range nums {
		a, err := numArgs(num, more...)
		if err != nil {
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

// pipeline sends one command per element of args, ahead of the answers by
// up to pipelineWindow when the server allows it, and calls answer(i) to
// read the answer of command i. An error from answer ends the session: the
// answers still in flight cannot be skipped reliably.
func (c *Client) pipeline(verb string, args [][]string, answer func(i int) error) error {
	window := 1
	if c.Pipelining() {
		window = pipelineWindow
	}
	sent := 0
	for i := range args {
		for ; sent < len(args) && sent < i+window; sent++ {
			if err := c.queue(verb, args[sent]...); err != nil {
				return err
			}
		}
		if err := c.flush(); err != nil {
			return err
		}
		if err := answer(i); err != nil {
			c.fail(err)
			return err
		}
	}
	return nil
}

// bodyAnswer reads the answer to one RETR or TOP and hands it to fn.
func (c *Client) bodyAnswer(verb string, num int, fn BodyFunc) error {
	_, err := c.readStatus(verb)
	var se *ServerError
	if errors.As(err, &se) {
		return fn(num, nil, fmt.Errorf("pop3: %s %d: %w", strings.ToLower(verb), num, err))
	}
	if err != nil {
		return fmt.Errorf("pop3: %s %d: %w", strings.ToLower(verb), num, err)
	}
	b := &bodyReader{r: c.r, lineStart: true}
	if err := fn(num, b, nil); err != nil {
		c.tracef("S: (%d bytes of message data, then the client stopped)", b.n)
		return err
	}
	if b.err == nil {
		io.Copy(io.Discard, b) // the rest fn did not want; b.err records the outcome
	}
	c.tracef("S: (%d bytes of message data)", b.n)
	if b.err != io.EOF {
		return fmt.Errorf("pop3: %s %d: %w", strings.ToLower(verb), num, b.err)
	}
	c.tracef("S: .")
	return nil
}

// bodyReader reads the data of one multi-line answer with the dot-unstuffing
// of copyBody: it ends with io.EOF at the terminating ".\r\n", and a
// connection that ends first gives an error wrapping io.ErrUnexpectedEOF.
type bodyReader struct {
	r         *bufio.Reader
	lineStart bool
	done      bool
	err       error // sticky: io.EOF at the end, or the read error
	n         int64
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}

	r := b.r
	if b.lineStart {
		done, err := lineStartDot(r)
		if err != nil {
			b.err = err
			return 0, err
		}
		if done {
			b.done, b.err = true, io.EOF
			return 0, io.EOF
		}
	}
	chunk, err := buffered(r)
	if err != nil {
		b.err = err
		return 0, err
	}
	end, next := spanEnd(chunk)
	n := copy(p, chunk[:end])
	r.Discard(n) // cannot fail: n bytes are buffered
	// Stopping short of end stops inside a span in which no line starts
	// with a dot, so the next read need not check for one.
	b.lineStart = n == end && next
	b.n += int64(n)
	return n, nil
}

// DeleEach marks the messages nums for deletion, pipelined like RetrEach.
// fn is called for each with nil, or with the *ServerError of a -ERR answer
// (that message is not marked; the session goes on). The marks take effect
// only when Quit succeeds. An error reading from the server ends the
// session.
func (c *Client) DeleEach(ctx context.Context, nums []int, fn func(num int, err error)) error {
	args, err := eachArgs(nums, nil)
	if err != nil {
		return fmt.Errorf("pop3: dele: %w", err)
	}
	return c.do(ctx, func() error {
		return c.pipeline("DELE", args, func(i int) error {
			_, err := c.readStatus("DELE")
			var se *ServerError
			if errors.As(err, &se) {
				fn(nums[i], fmt.Errorf("pop3: dele %d: %w", nums[i], err))
				return nil
			}
			if err != nil {
				return fmt.Errorf("pop3: dele %d: %w", nums[i], err)
			}
			fn(nums[i], nil)
			return nil
		})
	})
}
