package backup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/archive"
)

// listFolders lists the folders to back up: selectable, included, each
// once. A name that is not valid modified UTF-7 comes back from the client
// as imap.RawMailboxPrefix and the server's bytes (third_party/PATCHES.md):
// it is backed up like any other, under the escaped directory name the
// archive gives invalid bytes. INBOX is one folder whatever its case: the
// client names it "INBOX" however the server spells it, and a server that
// lists it twice gets it synced once. Each folder's special-use attributes
// come with it: asked for with RETURN (SPECIAL-USE) where the server has
// SPECIAL-USE and LIST-EXTENDED, else as far as LIST gives them anyway.
func listFolders(c *imapclient.Client, opts Options) ([]serverFolder, error) {
	caps := c.Caps()
	lo := &imap.ListOptions{ReturnSpecialUse: caps.Has(imap.CapSpecialUse) && caps.Has(imap.CapListExtended)}
	if caps.Has(imap.CapListStatus) {
		// SIZE (RFC 8438) lets plan weigh folders by bytes.
		lo.ReturnStatus = &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true,
			HighestModSeq: caps.Has(imap.CapCondStore), Size: caps.Has(imap.CapStatusSize)}
	}
	list, err := c.List("", "*", lo).Collect()
	var refused *imap.Error
	if lo.ReturnStatus != nil && lo.ReturnStatus.Size && errors.As(err, &refused) {
		// SIZE only weighs the folders: a server that will not give it
		// in LIST is listed again without it.
		lo.ReturnStatus.Size = false
		list, err = c.List("", "*", lo).Collect()
	}
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
		out = append(out, serverFolder{name: l.Mailbox, delim: l.Delim, status: l.Status, use: specialUse(l.Attrs)})
	}
	return out, nil
}

// specialUse are the RFC 6154 attributes among attrs, spelled as the RFC
// spells them.
func specialUse(attrs []imap.MailboxAttr) []string {
	var out []string
	for _, a := range attrs {
		for _, u := range specialUses {
			if strings.EqualFold(string(a), string(u)) && !slices.Contains(out, string(u)) {
				out = append(out, string(u))
			}
		}
	}
	return out
}

var specialUses = []imap.MailboxAttr{imap.MailboxAttrAll, imap.MailboxAttrArchive, imap.MailboxAttrDrafts,
	imap.MailboxAttrFlagged, imap.MailboxAttrJunk, imap.MailboxAttrSent, imap.MailboxAttrTrash}

// askNamespace sends NAMESPACE, to be answered while LIST runs; nil when
// the server does not have it.
func askNamespace(c *imapclient.Client) *imapclient.NamespaceCommand {
	if !c.Caps().Has(imap.CapNamespace) {
		return nil
	}
	return c.Namespace()
}

// personalNamespace waits for NAMESPACE's answer and returns the first
// personal namespace; nil when there is none to record.
func personalNamespace(cmd *imapclient.NamespaceCommand, log *slog.Logger) *archive.Namespace {
	if cmd == nil {
		return nil
	}
	data, err := cmd.Wait()
	if err != nil {
		log.Warn("NAMESPACE failed; the source's namespace is not recorded", "err", err)
		return nil
	}
	ns := &archive.Namespace{}
	if len(data.Personal) > 0 {
		ns.Prefix = data.Personal[0].Prefix
		if d := data.Personal[0].Delim; d != 0 {
			ns.Delim = string(d)
		}
	}
	return ns
}

// recordListing records what a restore needs to know of the source: each
// listed folder's special-use attributes and the personal namespace.
func recordListing(ctx context.Context, a *archive.Writer, folders []serverFolder, ns *archive.Namespace) error {
	use := make(map[string][]string, len(folders))
	for _, f := range folders {
		use[f.name] = f.use
	}
	if err := a.Catalog.SetSpecialUse(ctx, use); err != nil || ns == nil {
		return err
	}
	return a.Catalog.SetNamespace(ctx, *ns)
}

func skipListed(l *imap.ListData) bool {
	for _, attr := range l.Attrs {
		if attr == imap.MailboxAttrNoSelect || attr == imap.MailboxAttrNonExistent {
			return true
		}
	}
	return false
}
