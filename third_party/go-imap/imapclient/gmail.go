package imapclient

import (
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal/imapwire"
)

// StoreGmailLabels sends a STORE command that changes the X-GM-LABELS of
// messages: op adds, removes or sets labels. A label that begins with a
// backslash and is an atom otherwise (\Inbox, \Important) is sent as a
// system label; any other label as a string.
//
// This requires the X-GM-EXT-1 extension.
func (c *Client) StoreGmailLabels(numSet imap.NumSet, op imap.StoreFlagsOp, labels []string, silent bool) *FetchCommand {
	cmd := &FetchCommand{
		numSet: numSet,
		msgs:   make(chan *FetchMessageData, 128),
	}
	enc := c.beginCommand(uidCmdName("STORE", imapwire.NumSetKind(numSet)), cmd)
	enc.SP().NumSet(numSet).SP()
	switch op {
	case imap.StoreFlagsSet:
	case imap.StoreFlagsAdd:
		enc.Special('+')
	case imap.StoreFlagsDel:
		enc.Special('-')
	default:
		panic(fmt.Errorf("imapclient: unknown store flags op: %v", op))
	}
	enc.Atom("X-GM-LABELS")
	if silent {
		enc.Atom(".SILENT")
	}
	enc.SP().List(len(labels), func(i int) {
		writeGmailLabel(enc.Encoder, labels[i])
	})
	enc.end()
	return cmd
}

func writeGmailLabel(enc *imapwire.Encoder, label string) {
	if name, ok := strings.CutPrefix(label, `\`); ok && name != "" && isAtom(name) {
		enc.Atom(label)
		return
	}
	enc.String(label)
}

func isAtom(s string) bool {
	for i := 0; i < len(s); i++ {
		if !imapwire.IsAtomChar(s[i]) {
			return false
		}
	}
	return true
}

// readGmailLabels reads the list of an X-GM-LABELS item: system labels
// (a backslash and an atom) and astrings.
func readGmailLabels(dec *imapwire.Decoder) ([]string, error) {
	labels := []string{}
	err := dec.ExpectList(func() error {
		var s string
		if dec.Special('\\') {
			if !dec.ExpectAtom(&s) {
				return dec.Err()
			}
			labels = append(labels, `\`+s)
			return nil
		}
		if !dec.ExpectAString(&s) {
			return dec.Err()
		}
		labels = append(labels, s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("in X-GM-LABELS: %w", err)
	}
	return labels, nil
}
