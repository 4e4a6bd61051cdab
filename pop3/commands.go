package pop3

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Entry is one message of the maildrop.
type Entry struct {
	Num  int    // message number, valid for this session only
	UID  string // unique-id from UIDL, stable across sessions
	Size int64  // size from LIST, as the server counts it
}

// Stat returns the number of messages and their total size in octets.
func (c *Client) Stat(ctx context.Context) (count int, size int64, err error) {
	err = c.do(ctx, func() error {
		text, err := c.command("STAT")
		if err != nil {
			return err
		}
		count, size, err = parseStat(text)
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("pop3: stat: %w", err)
	}
	return count, size, nil
}

// UIDL lists every message with its unique-id (UIDL) and size (LIST),
// ordered by message number. Unique-ids are returned as sent, duplicates
// included: what to do with those is the caller's decision. A server that
// answers -ERR to UIDL gives an error for which errors.Is(err, ErrNoUIDL).
func (c *Client) UIDL(ctx context.Context) ([]Entry, error) {
	var entries []Entry
	err := c.do(ctx, func() (err error) {
		entries, err = c.uidl()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pop3: uidl: %w", err)
	}
	return entries, nil
}

// uidl sends UIDL and LIST, both at once when the server allows
// pipelining, and joins their answers.
func (c *Client) uidl() ([]Entry, error) {
	pipelined := c.Pipelining()
	if err := c.queue("UIDL"); err != nil {
		return nil, err
	}
	if pipelined {
		if err := c.queue("LIST"); err != nil {
			return nil, err
		}
	}
	if err := c.flush(); err != nil {
		return nil, err
	}
	if _, err := c.readStatus("UIDL"); err != nil {
		var se *ServerError
		if errors.As(err, &se) {
			if pipelined { // the LIST answer follows; the session stays usable
				var lse *ServerError
				if _, lerr := c.readList(); lerr != nil && !errors.As(lerr, &lse) {
					return nil, lerr
				}
			}
			return nil, fmt.Errorf("%w: %w", ErrNoUIDL, err)
		}
		return nil, err
	}
	uids, err := c.readListing("UIDL")
	if err != nil {
		return nil, err
	}
	if !pipelined {
		if err := c.send("LIST"); err != nil {
			return nil, err
		}
	}
	sizes, err := c.readList()
	if err != nil {
		return nil, err
	}
	return joinListings(uids, sizes)
}

// joinListings joins the answers to UIDL and LIST, both ordered by
// message number.
func joinListings(uids []listLine, sizes []Entry) ([]Entry, error) {
	for i, e := range sizes {
		if i >= len(uids) || uids[i].num != e.Num {
			return nil, fmt.Errorf("%w: message %d is in LIST but not in UIDL", errProtocol, e.Num)
		}
		sizes[i].UID = uids[i].value
	}
	if len(sizes) != len(uids) {
		return nil, fmt.Errorf("%w: UIDL lists %d messages, LIST %d", errProtocol, len(uids), len(sizes))
	}
	return sizes, nil
}

// List lists every message with its size (LIST), ordered by message
// number, with an empty UID: for servers without UIDL.
func (c *Client) List(ctx context.Context) ([]Entry, error) {
	var entries []Entry
	err := c.do(ctx, func() (err error) {
		if err := c.send("LIST"); err != nil {
			return err
		}
		entries, err = c.readList()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pop3: list: %w", err)
	}
	return entries, nil
}

// readList reads the answer to LIST, sent already: every message with its
// size, ordered by message number.
func (c *Client) readList() ([]Entry, error) {
	if _, err := c.readStatus("LIST"); err != nil {
		return nil, err
	}
	lines, err := c.readListing("LIST")
	if err != nil {
		return nil, err
	}
	out := make([]Entry, len(lines))
	for i, l := range lines {
		size, err := parseSize(l.value)
		if err != nil {
			return nil, err
		}
		out[i] = Entry{Num: l.num, Size: size}
	}
	return out, nil
}

// listLine is one line of a LIST or UIDL answer.
type listLine struct {
	num   int
	value string
}

// readListing reads the lines of a LIST or UIDL answer, and returns them
// ordered by message number. A message number listed twice is a protocol
// violation.
func (c *Client) readListing(cmd string) ([]listLine, error) {
	var out []listLine
	ordered := true
	err := c.readMultiLine(maxMessages, func(line string) error {
		num, value, err := parseListLine(line)
		if err != nil {
			return err
		}
		if n := len(out); n > 0 && num <= out[n-1].num {
			ordered = false
		}
		out = append(out, listLine{num, value})
		return nil
	})
	if err != nil || ordered {
		return out, err
	}
	slices.SortStableFunc(out, func(a, b listLine) int { return cmp.Compare(a.num, b.num) })
	for i := 1; i < len(out); i++ {
		if out[i].num == out[i-1].num {
			return nil, fmt.Errorf("%w: %s lists message %d twice", errProtocol, cmd, out[i].num)
		}
	}
	return out, nil
}

// Retr writes message num to w exactly as the server sends it: CRLF line
// ends kept, dot-stuffing and the terminating ".\r\n" removed, nothing else
// changed. It streams: memory use does not depend on the message or line
// length. It returns the number of bytes written to w, which may differ
// from the size LIST announced; comparing them is the caller's business.
//
// On error, bytes already written to w are incomplete and the caller must
// discard them. A -ERR answer leaves the session usable; any other error
// (the server or the connection failing, w failing, ctx ending) ends it,
// without QUIT, so no deletion of this session is applied.
func (c *Client) Retr(ctx context.Context, num int, w io.Writer) (int64, error) {
	n, err := c.body(ctx, w, "RETR", num)
	if err != nil {
		return n, fmt.Errorf("pop3: retr %d: %w", num, err)
	}
	return n, nil
}

// Top writes the header of message num and the first lines lines of its
// body to w, the way Retr writes a whole message. Unlike RETR, TOP does not
// mark a message as seen on Dovecot.
func (c *Client) Top(ctx context.Context, num, lines int, w io.Writer) (int64, error) {
	n, err := c.body(ctx, w, "TOP", num, lines)
	if err != nil {
		return n, fmt.Errorf("pop3: top %d %d: %w", num, lines, err)
	}
	return n, nil
}

// body sends a command whose +OK is followed by message data and copies
// that data to w.
func (c *Client) body(ctx context.Context, w io.Writer, verb string, num int, more ...int) (int64, error) {
	args, err := numArgs(num, more...)
	if err != nil {
		return 0, err
	}
	var n int64
	err = c.do(ctx, func() error {
		if _, err := c.command(verb, args...); err != nil {
			return err
		}
		var err error
		n, err = copyBody(w, c.r)
		c.tracef("S: (%d bytes of message data)", n)
		if err == nil {
			c.tracef("S: .")
		}
		return err
	})
	return n, err
}

// numArgs formats a message number (at least 1) and further non-negative
// numbers as command arguments.
func numArgs(num int, more ...int) ([]string, error) {
	if num < 1 || num > maxMessages {
		return nil, fmt.Errorf("%w: message number %d", errBadArgument, num)
	}
	args := []string{itoa(num)}
	for _, m := range more {
		if m < 0 {
			return nil, fmt.Errorf("%w: negative count %d", errBadArgument, m)
		}
		args = append(args, itoa(m))
	}
	return args, nil
}

// Dele marks message num for deletion. The server deletes it only when it
// answers +OK to QUIT.
func (c *Client) Dele(ctx context.Context, num int) error {
	args, err := numArgs(num)
	if err == nil {
		err = c.simple(ctx, "DELE", args...)
	}
	if err != nil {
		return fmt.Errorf("pop3: dele %d: %w", num, err)
	}
	return nil
}

// Rset unmarks every message marked for deletion in this session.
func (c *Client) Rset(ctx context.Context) error {
	if err := c.simple(ctx, "RSET"); err != nil {
		return fmt.Errorf("pop3: rset: %w", err)
	}
	return nil
}

// Noop does nothing but check that the session is alive.
func (c *Client) Noop(ctx context.Context) error {
	if err := c.simple(ctx, "NOOP"); err != nil {
		return fmt.Errorf("pop3: noop: %w", err)
	}
	return nil
}

// Quit ends the session. It returns nil only when the server answered +OK
// to QUIT, which is when the server commits this session's deletions. Any
// other outcome is an error, after which the caller must not count the
// marked messages as deleted. The connection is closed in every case.
func (c *Client) Quit(ctx context.Context) error {
	err := c.simple(ctx, "QUIT")
	c.Close()
	if err != nil {
		return fmt.Errorf("pop3: quit: %w", err)
	}
	return nil
}

func (c *Client) simple(ctx context.Context, verb string, args ...string) error {
	return c.do(ctx, func() error {
		_, err := c.command(verb, args...)
		return err
	})
}
