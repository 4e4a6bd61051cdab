package corpus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// appendWindow is how many APPENDs Load sends before it waits for their
// results.
const appendWindow = 32

// Load creates the folders of msgs (see Folders), translating "/" into the
// server's hierarchy delimiter, and APPENDs every message in order with its
// flags and date. Messages of one folder therefore get increasing UIDs in
// the order of msgs. c must be logged in; Load closes it if ctx ends first.
func Load(ctx context.Context, c *imapclient.Client, msgs []Message) error {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	err := load(c, msgs)
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("corpus load: %w", ctxErr)
	}
	return err
}

func load(c *imapclient.Client, msgs []Message) error {
	delim, err := delimiter(c)
	if err != nil {
		return err
	}
	existing, err := listed(c)
	if err != nil {
		return err
	}
	for _, f := range Folders(msgs) {
		if err := create(c, f, delim, existing); err != nil {
			return err
		}
	}
	return appendAll(c, msgs, delim)
}

// delimiter asks the server for its hierarchy delimiter (LIST "" "").
func delimiter(c *imapclient.Client) (rune, error) {
	list, err := c.List("", "", nil).Collect()
	if err != nil {
		return 0, fmt.Errorf("corpus load: list delimiter: %w", err)
	}
	if len(list) == 0 || list[0].Delim == 0 {
		return 0, errors.New("corpus load: server has a flat folder namespace")
	}
	return list[0].Delim, nil
}

// serverName turns a "/"-separated folder name into the server's.
func serverName(folder string, delim rune) (string, error) {
	parts := strings.Split(folder, "/")
	for _, p := range parts {
		if delim != '/' && strings.ContainsRune(p, delim) {
			return "", fmt.Errorf("corpus load: folder %q: %q is the server's delimiter", folder, delim)
		}
	}
	return strings.Join(parts, string(delim)), nil
}

// listed returns the names of the selectable folders the server lists.
func listed(c *imapclient.Client) (map[string]bool, error) {
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		return nil, fmt.Errorf("corpus load: list: %w", err)
	}
	names := map[string]bool{}
	for _, l := range list {
		names[l.Mailbox] = !slices.Contains(l.Attrs, imap.MailboxAttrNoSelect) &&
			!slices.Contains(l.Attrs, imap.MailboxAttrNonExistent)
	}
	return names, nil
}

// create creates folder unless the server lists it already. Not every
// server says ALREADYEXISTS when it refuses to create one that exists
// (Cyrus answers a bare NO).
func create(c *imapclient.Client, folder string, delim rune, existing map[string]bool) error {
	if strings.EqualFold(folder, "INBOX") {
		return nil
	}
	name, err := serverName(folder, delim)
	if err != nil || existing[name] {
		return err
	}
	err = c.Create(name, nil).Wait()
	var imapErr *imap.Error
	if errors.As(err, &imapErr) && imapErr.Code == imap.ResponseCodeAlreadyExists {
		return nil
	}
	if err != nil {
		return fmt.Errorf("corpus load: create %q: %w", name, err)
	}
	return nil
}

// appendAll sends APPENDs without waiting for each answer, up to
// appendWindow at a time.
func appendAll(c *imapclient.Client, msgs []Message, delim rune) error {
	pending := make([]*imapclient.AppendCommand, 0, appendWindow)
	for i, m := range msgs {
		cmd, err := startAppend(c, m, delim)
		if err != nil {
			return fmt.Errorf("corpus load: message %d: %w", i, err)
		}
		pending = append(pending, cmd)
		if len(pending) == appendWindow || i == len(msgs)-1 {
			if err := waitAll(pending, i+1-len(pending)); err != nil {
				return err
			}
			pending = pending[:0]
		}
	}
	return nil
}

func startAppend(c *imapclient.Client, m Message, delim rune) (*imapclient.AppendCommand, error) {
	name, err := serverName(m.Folder, delim)
	if err != nil {
		return nil, err
	}
	flags := make([]imap.Flag, len(m.Flags))
	for i, f := range m.Flags {
		flags[i] = imap.Flag(f)
	}
	cmd := c.Append(name, int64(len(m.Raw)), &imap.AppendOptions{Flags: flags, Time: m.Date})
	_, werr := cmd.Write(m.Raw)
	if err := errors.Join(werr, cmd.Close()); err != nil {
		return nil, fmt.Errorf("append to %q: %w", name, err)
	}
	return cmd, nil
}

// waitAll waits for every command; first is the index of the first one's
// message, for error messages.
func waitAll(cmds []*imapclient.AppendCommand, first int) error {
	var errs []error
	for i, cmd := range cmds {
		if _, err := cmd.Wait(); err != nil {
			errs = append(errs, fmt.Errorf("corpus load: message %d: %w", first+i, err))
		}
	}
	return errors.Join(errs...)
}
