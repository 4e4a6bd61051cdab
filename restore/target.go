package restore

import (
	"fmt"
	"io"
	"slices"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/archive"
)

// headerLimit bounds how much of a Message-ID header field is read.
const headerLimit = 64 << 10

// hashChunk is how many messages one UID FETCH of whole bodies asks for.
const hashChunk = 200

var scanFetch = &imap.FetchOptions{UID: true, RFC822Size: true, BodySection: []*imap.FetchItemBodySection{{
	Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Message-ID"}, Peek: true}}}

var bodyFetch = &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}

// scanTarget hands add the messages of the selected folder with their
// sizes and Message-IDs, from one UID FETCH.
func scanTarget(c *imapclient.Client, count uint32, add func(held) error) error {
	if count == 0 {
		return nil
	}
	cmd := c.Fetch(imap.UIDSet{{Start: 1, Stop: 0}}, scanFetch)
	defer cmd.Close()
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		h, err := readHeld(msg)
		if err != nil {
			return err
		}
		if h.uid == 0 {
			continue
		}
		if err := add(h); err != nil {
			return err
		}
	}
	if err := cmd.Close(); err != nil {
		return fmt.Errorf("fetch sizes and Message-IDs: %w", err)
	}
	return nil
}

func readHeld(msg *imapclient.FetchMessageData) (held, error) {
	var h held
	for item := msg.Next(); item != nil; item = msg.Next() {
		switch item := item.(type) {
		case imapclient.FetchItemDataUID:
			h.uid = item.UID
		case imapclient.FetchItemDataRFC822Size:
			h.size = item.Size
		case imapclient.FetchItemDataBodySection:
			if item.Literal == nil {
				continue
			}
			head, err := io.ReadAll(io.LimitReader(item.Literal, headerLimit))
			if err == nil {
				_, err = io.Copy(io.Discard, item.Literal)
			}
			if err != nil {
				return h, fmt.Errorf("read Message-ID: %w", err)
			}
			h.id = archive.MessageID(head)
		}
	}
	return h, nil
}

// hashTarget fetches whole messages of the selected folder and returns
// their content hashes. A message the server does not return is left out.
func hashTarget(c *imapclient.Client, uids []imap.UID) (map[imap.UID][32]byte, error) {
	out := map[imap.UID][32]byte{}
	for chunk := range slices.Chunk(uids, hashChunk) {
		if err := hashSet(c, imap.UIDSetNum(chunk...), out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func hashSet(c *imapclient.Client, set imap.UIDSet, out map[imap.UID][32]byte) error {
	cmd := c.Fetch(set, bodyFetch)
	defer cmd.Close()
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		var uid imap.UID
		var sum *[32]byte
		for item := msg.Next(); item != nil; item = msg.Next() {
			switch item := item.(type) {
			case imapclient.FetchItemDataUID:
				uid = item.UID
			case imapclient.FetchItemDataBodySection:
				if item.Literal == nil {
					continue
				}
				h := newContentHash()
				if _, err := io.Copy(h, item.Literal); err != nil {
					return fmt.Errorf("fetch message to compare: %w", err)
				}
				s := h.Sum()
				sum = &s
			}
		}
		if uid != 0 && sum != nil {
			out[uid] = *sum
		}
	}
	if err := cmd.Close(); err != nil {
		return fmt.Errorf("fetch messages to compare: %w", err)
	}
	return nil
}
