package backup

import (
	"context"
	"fmt"
	"slices"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/transport"
)

// FolderInfo is a server folder as "mailkeep folders" and a dry run show
// it.
type FolderInfo struct {
	Name       string
	Delim      string
	Attrs      []string // \Noselect, \Sent…
	Selectable bool
	Messages   int   // -1 when the server did not say
	Size       int64 // -1 when the server did not say (no STATUS=SIZE)
	// What a backup would do, for a dry run: messages the archive lacks
	// and their size, messages it holds that the server no longer has.
	Fetch      int
	FetchBytes int64
	Gone       int
	Unchanged  bool // LIST-STATUS shows no change since the last run
}

// Folders lists an IMAP account's folders with their sizes. It only
// reads: LIST and STATUS.
func Folders(ctx context.Context, dial transport.IMAPDialer) ([]FolderInfo, error) {
	c, err := dial(ctx)
	if err != nil {
		return nil, err
	}
	defer transport.CloseIMAP(c)
	return listInfo(c)
}

func listInfo(c *imapclient.Client) ([]FolderInfo, error) {
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		return nil, fmt.Errorf("list folders: %w", err)
	}
	so := &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true,
		Size:          c.Caps().Has(imap.CapIMAP4rev2) || c.Caps().Has(imap.Cap("STATUS=SIZE")),
		HighestModSeq: c.Caps().Has(imap.CapCondStore)}
	var out []FolderInfo
	seen := map[string]bool{}
	for _, l := range list {
		if seen[l.Mailbox] {
			continue
		}
		seen[l.Mailbox] = true
		fi := FolderInfo{Name: l.Mailbox, Delim: delimString(l.Delim), Selectable: !skipListed(l), Messages: -1, Size: -1}
		for _, a := range l.Attrs {
			fi.Attrs = append(fi.Attrs, string(a))
		}
		if fi.Selectable {
			st, err := c.Status(l.Mailbox, so).Wait()
			if err != nil {
				return nil, fmt.Errorf("status %q: %w", l.Mailbox, err)
			}
			fillStatus(&fi, st)
		}
		out = append(out, fi)
	}
	return out, nil
}

func fillStatus(fi *FolderInfo, st *imap.StatusData) {
	if st.NumMessages != nil {
		fi.Messages = int(*st.NumMessages)
	}
	if st.Size != nil {
		fi.Size = *st.Size
	}
}

func delimString(d rune) string {
	if d == 0 {
		return ""
	}
	return string(d)
}

// DryRun says what a backup of an IMAP account would do, folder by folder,
// without writing anything: the folders it would back up (selected by
// include), with the messages it would fetch and those it would mark
// gone, against the archive snap shows (nil: no archive yet). It reads
// the server with LIST, STATUS, EXAMINE, UID SEARCH and UID FETCH of
// sizes only.
func DryRun(ctx context.Context, snap *archive.Snapshot, dial transport.IMAPDialer, include func(string) bool) ([]FolderInfo, error) {
	c, err := dial(ctx)
	if err != nil {
		return nil, err
	}
	defer transport.CloseIMAP(c)
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	known, err := knownFolders(ctx, snap)
	if err != nil {
		return nil, err
	}
	folders, err := listFolders(c, Options{Include: include})
	if err != nil {
		return nil, err
	}
	var out []FolderInfo
	for _, f := range folders {
		fi, err := dryFolder(ctx, c, snap, f, known[f.name])
		if err != nil {
			return out, fmt.Errorf("folder %q: %w", f.name, err)
		}
		out = append(out, fi)
	}
	return out, nil
}

func knownFolders(ctx context.Context, snap *archive.Snapshot) (map[string]archive.ViewFolder, error) {
	out := map[string]archive.ViewFolder{}
	if snap == nil {
		return out, nil
	}
	folders, err := snap.Folders(ctx, archive.View{})
	for _, f := range folders {
		out[f.Name] = f
	}
	return out, err
}

// dryFolder works out what a sync of one folder would fetch.
func dryFolder(ctx context.Context, c *imapclient.Client, snap *archive.Snapshot, f serverFolder, known archive.ViewFolder) (FolderInfo, error) {
	fi := FolderInfo{Name: f.name, Delim: delimString(f.delim), Selectable: true, Messages: -1, Size: -1}
	if known.ID != 0 && unchanged(known.FolderState, f.status) {
		fi.Unchanged, fi.Messages = true, int(known.Messages)
		return fi, nil
	}
	sel, err := c.Select(f.name, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return fi, fmt.Errorf("examine: %w", err)
	}
	fi.Messages = int(sel.NumMessages)
	have, err := archivedUIDs(ctx, snap, known, sel.UIDValidity)
	if err != nil {
		return fi, err
	}
	server, err := searchAll(c, sel)
	if err != nil {
		return fi, err
	}
	var missing []imap.UID
	for _, uid := range server {
		if !have[uint32(uid)] {
			missing = append(missing, uid)
		}
		delete(have, uint32(uid))
	}
	fi.Fetch, fi.Gone = len(missing), len(have)
	fi.FetchBytes, err = sizes(c, missing)
	return fi, err
}

// archivedUIDs are the UIDs of a folder's present messages under
// uidValidity; none for a new folder or a new UIDVALIDITY.
func archivedUIDs(ctx context.Context, snap *archive.Snapshot, known archive.ViewFolder, uidValidity uint32) (map[uint32]bool, error) {
	out := map[uint32]bool{}
	if snap == nil || known.ID == 0 {
		return out, nil
	}
	err := snap.EachMessage(ctx, known.ID, archive.View{}, func(m archive.Message) error {
		if m.UIDValidity == uidValidity {
			out[m.UID] = true
		}
		return nil
	})
	return out, err
}

func searchAll(c *imapclient.Client, sel *imap.SelectData) ([]imap.UID, error) {
	if sel.NumMessages == 0 {
		return nil, nil
	}
	data, err := c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
	if err != nil {
		return nil, fmt.Errorf("search uids: %w", err)
	}
	set, _ := data.All.(imap.UIDSet)
	l, err := uidListOf(set, int(sel.NumMessages)+1024)
	return slices.Collect(l.all()), err
}

// sizes sums the RFC822.SIZE of uids.
func sizes(c *imapclient.Client, uids []imap.UID) (int64, error) {
	var total int64
	for chunk := range slices.Chunk(uids, fetchChunk) {
		msgs, err := c.Fetch(imap.UIDSetNum(chunk...), &imap.FetchOptions{UID: true, RFC822Size: true}).Collect()
		if err != nil {
			return total, fmt.Errorf("fetch sizes: %w", err)
		}
		for _, m := range msgs {
			total += m.RFC822Size
		}
	}
	return total, nil
}

// DryRunPOP3 says what a backup of a POP3 account would do: the messages
// the maildrop lists that the archive lacks, and those it holds that the
// maildrop no longer lists. A server without UIDL is answered with its
// message count only. It sends UIDL and LIST, never RETR or DELE.
func DryRunPOP3(ctx context.Context, snap *archive.Snapshot, dial transport.POP3Dialer) (FolderInfo, error) {
	fi := FolderInfo{Name: pop3Folder, Selectable: true, Messages: -1, Size: -1}
	c, err := dial(ctx)
	if err != nil {
		return fi, err
	}
	defer c.Close()
	list, err := c.List(ctx)
	if err != nil {
		return fi, err
	}
	fi.Messages, fi.Size = len(list), 0
	size := map[int]int64{}
	for _, e := range list {
		fi.Size += e.Size
		size[e.Num] = e.Size
	}
	ids, err := c.UIDL(ctx)
	if err != nil {
		return fi, fmt.Errorf("without UIDL a dry run cannot tell what is new: %w", err)
	}
	have, err := archivedIdentities(ctx, snap)
	if err != nil {
		return fi, err
	}
	for _, e := range ids {
		id := uidlIdentity(e.UID)
		if !have[id] {
			fi.Fetch++
			fi.FetchBytes += size[e.Num]
		}
		delete(have, id)
	}
	fi.Gone = len(have)
	return fi, nil
}

func archivedIdentities(ctx context.Context, snap *archive.Snapshot) (map[string]bool, error) {
	out := map[string]bool{}
	if snap == nil {
		return out, nil
	}
	folders, err := snap.Folders(ctx, archive.View{})
	if err != nil || len(folders) == 0 {
		return out, err
	}
	err = snap.EachMessage(ctx, folders[0].ID, archive.View{}, func(m archive.Message) error {
		out[m.UIDL] = true
		return nil
	})
	return out, err
}
