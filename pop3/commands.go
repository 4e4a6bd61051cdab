package pop3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
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
				if lerr := c.readList(func(int, int64) error { return nil }); lerr != nil && !errors.As(lerr, &lse) {
					return nil, lerr
				}
			}
			return nil, fmt.Errorf("%w: %w", ErrNoUIDL, err)
		}
		return nil, err
	}
	uids := map[int]string{}
	if err := c.readListing("UIDL", func(num int, uid string) error {
		uids[num] = uid
		return nil
	}); err != nil {
		return nil, err
	}
	if !pipelined {
		if err := c.send("LIST"); err != nil {
			return nil, err
		}
	}
	entries := make([]Entry, 0, len(uids))
	err := c.readList(func(num int, size int64) error {
		uid, ok := uids[num]
		if !ok {
			return fmt.Errorf("%w: message %d is in LIST but not in UIDL", errProtocol, num)
		}
		entries = append(entries, Entry{Num: num, UID: uid, Size: size})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(entries) != len(uids) {
		return nil, fmt.Errorf("%w: UIDL lists %d messages, LIST %d", errProtocol, len(uids), len(entries))
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Num < entries[j].Num })
	return entries, nil
}

// List lists every message with its size (LIST), ordered by message
// number, with an empty UID: for servers without UIDL.
func (c *Client) List(ctx context.Context) ([]Entry, error) {
	var entries []Entry
	err := c.do(ctx, func() error {
		return c.list(func(num int, size int64) error {
			entries = append(entries, Entry{Num: num, Size: size})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("pop3: list: %w", err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Num < entries[j].Num })
	return entries, nil
}

// list sends LIST and hands each message's number and size to fn.
func (c *Client) list(fn func(num int, size int64) error) error {
	if err := c.send("LIST"); err != nil {
		return err
	}
	return c.readList(fn)
}

// readList reads the answer to LIST, sent already, and hands each
// message's number and size to fn.
func (c *Client) readList(fn func(num int, size int64) error) error {
	if _, err := c.readStatus("LIST"); err != nil {
		return err
	}
	return c.readListing("LIST", func(num int, value string) error {
		size, err := parseSize(value)
		if err != nil {
			return err
		}
		return fn(num, size)
	})
}

// readListing reads the lines of a LIST or UIDL answer. A message number
// listed twice is a protocol violation.
func (c *Client) readListing(cmd string, fn func(num int, value string) error) error {
	seen := map[int]bool{}
	return c.readMultiLine(maxMessages, func(line string) error {
		num, value, err := parseListLine(line)
		if err != nil {
			return err
		}
		if seen[num] {
			return fmt.Errorf("%w: %s lists message %d twice", errProtocol, cmd, num)
		}
		seen[num] = true
		return fn(num, value)
	})
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
