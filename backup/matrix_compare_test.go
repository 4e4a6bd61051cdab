package backup_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/archive"
)

// servedMessage is one message as the server or the archive has it.
type servedMessage struct {
	sum   [32]byte
	size  int
	flags []string
	date  time.Time
}

func (m servedMessage) String() string {
	return fmt.Sprintf("%x… %d bytes %v %s", m.sum[:6], m.size, m.flags, m.date.Format(time.RFC3339))
}

// folderMessages are a folder's messages by UID, under its UIDVALIDITY.
type folderMessages struct {
	uidValidity uint32
	msgs        map[uint32]servedMessage
}

// compareExact checks that the archive holds, for every selectable server
// folder, a folder of the same name and UIDVALIDITY whose present messages
// are the server's, UID by UID: the same bytes, flags and keywords, and
// INTERNALDATE. It reads the catalog and the message files themselves.
func compareExact(t *testing.T, c *imapclient.Client, root string) {
	t.Helper()
	server := serverMessages(t, c)
	archived := archivedMessages(t, root)
	for name, sf := range server {
		af, ok := archived[name]
		if !ok {
			t.Errorf("folder %q is not in the archive", name)
			continue
		}
		if af.uidValidity != sf.uidValidity {
			t.Errorf("folder %q: UIDVALIDITY %d in the archive, %d on the server", name, af.uidValidity, sf.uidValidity)
		}
		compareFolder(t, name, sf.msgs, af.msgs)
	}
	for name := range archived {
		if _, ok := server[name]; !ok {
			t.Errorf("the archive has a present folder %q the server does not list", name)
		}
	}
}

func compareFolder(t *testing.T, name string, server, archived map[uint32]servedMessage) {
	t.Helper()
	for uid, sm := range server {
		am, ok := archived[uid]
		switch {
		case !ok:
			t.Errorf("%s uid %d: not in the archive (server: %v)", name, uid, sm)
		case am.sum != sm.sum || am.size != sm.size || !slices.Equal(am.flags, sm.flags) || !am.date.Equal(sm.date):
			t.Errorf("%s uid %d:\n archive %v\n server  %v", name, uid, am, sm)
		}
	}
	for uid := range archived {
		if _, ok := server[uid]; !ok {
			t.Errorf("%s uid %d: present in the archive, not on the server", name, uid)
		}
	}
}

func serverMessages(t *testing.T, c *imapclient.Client) map[string]folderMessages {
	t.Helper()
	out := map[string]folderMessages{}
	for _, name := range listNames(t, c) {
		msgs := fetchAll(t, c, name)
		fm := folderMessages{uidValidity: mailboxUIDValidity(t, c, name), msgs: map[uint32]servedMessage{}}
		for _, m := range msgs {
			raw := m.FindBodySection(&imap.FetchItemBodySection{})
			fm.msgs[uint32(m.UID)] = servedMessage{sha256.Sum256(raw), len(raw), exactFlags(m.Flags), m.InternalDate}
		}
		out[name] = fm
	}
	return out
}

func mailboxUIDValidity(t *testing.T, c *imapclient.Client, name string) uint32 {
	t.Helper()
	st, err := c.Status(name, &imap.StatusOptions{UIDValidity: true}).Wait()
	if err != nil {
		t.Fatalf("status %q: %v", name, err)
	}
	return st.UIDValidity
}

// exactFlags are flags as the catalog keeps them: sorted, case kept,
// without \Recent.
func exactFlags(flags []imap.Flag) []string {
	out := []string{}
	for _, f := range flags {
		if f != "\\Recent" {
			out = append(out, string(f))
		}
	}
	slices.Sort(out)
	return out
}

// archivedMessages reads the present messages of every present folder
// through the archive's read path (a Snapshot of the latest state), each
// message's content verified against its catalog row as it is read.
func archivedMessages(t *testing.T, root string) map[string]folderMessages {
	t.Helper()
	ctx := context.Background()
	snap, err := archive.OpenSnapshot(ctx, root, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	folders, err := snap.Folders(ctx, archive.View{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]folderMessages{}
	for _, f := range folders {
		out[f.Name] = archivedFolder(t, ctx, snap, f.FolderState)
	}
	return out
}

func archivedFolder(t *testing.T, ctx context.Context, snap *archive.Snapshot, f archive.FolderState) folderMessages {
	t.Helper()
	af, err := snap.Folder(f)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := snap.Messages(ctx, f.ID, archive.View{})
	if err != nil {
		t.Fatal(err)
	}
	fm := folderMessages{uidValidity: f.UIDValidity, msgs: map[uint32]servedMessage{}}
	for _, m := range rows {
		r, err := af.OpenMessage(m)
		if err != nil {
			t.Fatalf("%s %s: %v", f.Name, m.Key, err)
		}
		h := sha256.New()
		n, err := io.Copy(h, r)
		r.Close()
		if err != nil {
			t.Fatalf("%s %s: %v", f.Name, m.Key, err)
		}
		if m.UIDValidity != f.UIDValidity {
			t.Errorf("%s %s: present with UIDVALIDITY %d, the folder's is %d", f.Name, m.Key, m.UIDValidity, f.UIDValidity)
		}
		fm.msgs[m.UID] = servedMessage{[32]byte(h.Sum(nil)), int(n), slices.Sorted(slices.Values(m.Flags)), m.InternalDate}
	}
	return fm
}

// checkRecorded checks what the backup recorded for a restore: the
// personal namespace where the server has NAMESPACE, and each folder's
// special-use attributes as LIST gives them.
func checkRecorded(t *testing.T, c *imapclient.Client, root string, s matrixServer) {
	t.Helper()
	ctx := context.Background()
	snap, err := archive.OpenSnapshot(ctx, root, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	ns, ok, err := snap.Namespace(ctx)
	want := archive.Namespace{Prefix: s.prefix, Delim: string(s.delim)}
	switch {
	case err != nil:
		t.Fatal(err)
	case !c.Caps().Has(imap.CapNamespace) && ok:
		t.Errorf("namespace %+v recorded from a server without NAMESPACE", ns)
	case c.Caps().Has(imap.CapNamespace) && ns != want:
		t.Errorf("namespace %+v (recorded %v), want %+v", ns, ok, want)
	}
	list, err := c.List("", "*", &imap.ListOptions{ReturnSpecialUse: c.Caps().Has(imap.CapSpecialUse)}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	attrs := map[string][]string{}
	for _, l := range list {
		for _, a := range l.Attrs {
			switch a {
			case imap.MailboxAttrAll, imap.MailboxAttrArchive, imap.MailboxAttrDrafts, imap.MailboxAttrFlagged,
				imap.MailboxAttrJunk, imap.MailboxAttrSent, imap.MailboxAttrTrash:
				attrs[l.Mailbox] = append(attrs[l.Mailbox], string(a))
			}
		}
	}
	folders, err := snap.Folders(ctx, archive.View{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range folders {
		if f.SpecialUse != strings.Join(attrs[f.Name], " ") {
			t.Errorf("folder %q: special use %q recorded, the server lists %q", f.Name, f.SpecialUse, attrs[f.Name])
		}
		if f.SpecialUse != "" {
			t.Logf("folder %q: special use %q", f.Name, f.SpecialUse)
		}
	}
}
