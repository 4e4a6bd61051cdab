package backup_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// memServer starts an in-process IMAP server whose user alice has the
// given folders, one message in each.
func memServer(t *testing.T, folders []string) string {
	t.Helper()
	mem := imapmemserver.New()
	user := imapmemserver.NewUser("alice", "pw")
	for i, name := range append([]string{"INBOX"}, folders...) {
		if err := user.Create(name, nil); err != nil {
			t.Fatalf("create %q: %v", name, err)
		}
		raw := fmt.Sprintf("Subject: %d\r\n\r\nbody\r\n", i)
		if _, err := user.Append(name, literal(raw), &imap.AppendOptions{Time: time.Unix(1700000000, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	mem.AddUser(user)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}},
		InsecureAuth: true,
		Logger:       log.New(io.Discard, "", 0),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

type lit struct{ *strings.Reader }

func (l lit) Size() int64 { return l.Reader.Size() }

func literal(s string) imap.LiteralReader { return lit{strings.NewReader(s)} }

// TestHostileFolderNamesInProcess covers names no Dovecot layout accepts:
// control characters, names far longer than a file name may be, empty
// hierarchy levels.
func TestHostileFolderNamesInProcess(t *testing.T) {
	names := append([]string{"bell\x07", strings.Repeat("a", 1000),
		strings.Repeat("a", 1000) + "b", "a//b", "/lead", "x/%", "x/%~"}, hostileNames...)
	addr := memServer(t, names)
	root := t.TempDir()
	dial := func(ctx context.Context) (*imapclient.Client, error) {
		return dialVia(addr, "alice", "pw", 0)(ctx)
	}
	res := runBackup(t, t.Context(), root, dial)
	if res.Stats.NewMessages != len(names)+1 || res.Stats.Folders != len(names)+1 {
		t.Fatalf("%+v, want %d folders with one message each", res.Stats, len(names)+1)
	}
	checkInside(t, root)
	checkComplete(t, root, len(names)+1)
}
