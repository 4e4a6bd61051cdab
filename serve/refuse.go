package serve

import (
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// The archive is read-only through IMAP. Every command that would change
// it is answered here, and only here, with NO: the session embeds
// readOnly, and nothing else in the package implements these commands.
// (Select answers [READ-ONLY], so CLOSE expunges nothing: the patched
// go-imap in third_party/ sees to both.)

// readOnly implements the writing commands of imapserver.Session.
type readOnly struct{}

// refuse is the answer to a command that would change the archive.
func refuse(command string) error {
	return &imap.Error{
		Type: imap.StatusResponseTypeNo,
		Code: imap.ResponseCodeCannot,
		Text: command + " refused: this is mailkeep's archive, served read-only; nothing in it can be changed",
	}
}

func (readOnly) Create(string, *imap.CreateOptions) error         { return refuse("CREATE") }
func (readOnly) Delete(string) error                              { return refuse("DELETE") }
func (readOnly) Rename(string, string, *imap.RenameOptions) error { return refuse("RENAME") }
func (readOnly) Unsubscribe(string) error                         { return refuse("UNSUBSCRIBE") }

func (readOnly) Append(string, imap.LiteralReader, *imap.AppendOptions) (*imap.AppendData, error) {
	return nil, refuse("APPEND")
}

func (readOnly) Store(*imapserver.FetchWriter, imap.NumSet, *imap.StoreFlags, *imap.StoreOptions) error {
	return refuse("STORE")
}

func (readOnly) Copy(imap.NumSet, string) (*imap.CopyData, error) { return nil, refuse("COPY") }

func (readOnly) Move(*imapserver.MoveWriter, imap.NumSet, string) error { return refuse("MOVE") }

func (readOnly) Expunge(*imapserver.ExpungeWriter, *imap.UIDSet) error { return refuse("EXPUNGE") }

// Subscribe succeeds for a folder that can be selected, since every such
// folder counts as subscribed already; anything else would be a change.
func (s *session) Subscribe(name string) error {
	_, b, err := s.mailbox(name)
	if err != nil {
		return err
	}
	if b != nil && !b.noselect {
		return nil
	}
	return refuse("SUBSCRIBE")
}
