package backup

import (
	"fmt"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// listFolders lists the folders to back up: selectable, included, each
// once. A name that is not valid modified UTF-7 comes back from the client
// as imap.RawMailboxPrefix and the server's bytes (third_party/PATCHES.md):
// it is backed up like any other, under the escaped directory name the
// archive gives invalid bytes. INBOX is one folder whatever its case: the
// client names it "INBOX" however the server spells it, and a server that
// lists it twice gets it synced once.
func listFolders(c *imapclient.Client, opts Options) ([]serverFolder, error) {
	lo := &imap.ListOptions{}
	if c.Caps().Has(imap.CapListStatus) {
		lo.ReturnStatus = &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true,
			HighestModSeq: c.Caps().Has(imap.CapCondStore)}
	}
	list, err := c.List("", "*", lo).Collect()
	if err != nil {
		return nil, fmt.Errorf("list folders: %w", err)
	}
	var out []serverFolder
	seen := map[string]bool{}
	for _, l := range list {
		if skipListed(l) || !opts.Include(l.Mailbox) || seen[l.Mailbox] {
			continue
		}
		seen[l.Mailbox] = true
		out = append(out, serverFolder{name: l.Mailbox, delim: l.Delim, status: l.Status})
	}
	return out, nil
}

func skipListed(l *imap.ListData) bool {
	for _, attr := range l.Attrs {
		if attr == imap.MailboxAttrNoSelect || attr == imap.MailboxAttrNonExistent {
			return true
		}
	}
	return false
}
