// Package memservertest runs go-imap v2's in-process IMAP server
// (imapmemserver) on a free loopback port for tests, with the same shape
// as the packages that run real servers (dovecottest, cyrustest,
// couriertest): Start, Dial, Password, Folder.
//
// The server keeps mail in memory; its hierarchy separator is "/" and it
// has no namespace prefix. By default it announces IMAP4rev1 and
// IMAP4rev2, which implies ESEARCH and LIST-STATUS, but it has no
// CONDSTORE; Options.Caps can take IMAP4rev2 away to leave a server with
// none of the three. It serves a message's header with CRLF line ends
// whatever it was given, and its body byte for byte (bare LF included); it
// keeps INTERNALDATE as given, time zone and all. It stops at test
// cleanup.
package memservertest

import (
	"fmt"
	"io"
	"log"
	"net"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/mailkeep/mailkeep/internal/servertest"
)

// DefaultUsers are the accounts of a Server started without Options.Users.
var DefaultUsers = []string{"alice", "bob", "carol"}

// Options configure Start. The zero value serves DefaultUsers with
// IMAP4rev1 and IMAP4rev2.
type Options struct {
	// Users are the accounts; the password of user u is "secret-"+u. Each
	// starts with an empty INBOX.
	Users []string
	// Caps are the capabilities announced; nil means IMAP4rev1 and
	// IMAP4rev2.
	Caps imap.CapSet
	// AppendLimit, if not 0, is announced as APPENDLIMIT=<n>. The server
	// still takes larger messages: a client must keep to it by itself.
	AppendLimit uint32
}

// Server is a running in-process IMAP server.
type Server struct {
	IMAPAddr string // 127.0.0.1:port
	Delim    rune   // hierarchy separator: '/'
	Prefix   string // personal namespace prefix: ""
	Caps     imap.CapSet
}

// Start serves opts.Users on a free loopback port until test cleanup.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	users := opts.Users
	if len(users) == 0 {
		users = DefaultUsers
	}
	caps := opts.Caps
	if caps == nil {
		caps = imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}}
	}
	mem := imapmemserver.New()
	for _, name := range users {
		u := imapmemserver.NewUser(name, servertest.Password(name))
		if err := u.Create("INBOX", nil); err != nil {
			t.Fatalf("memservertest: %v", err)
		}
		mem.AddUser(u)
	}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			sess := mem.NewSession()
			if opts.AppendLimit != 0 {
				sess = limitedSession{sess.(imapserver.SessionIMAP4rev2), opts.AppendLimit}
			}
			return sess, nil, nil
		},
		Caps:         caps,
		InsecureAuth: true,
		Logger:       log.New(io.Discard, "", 0),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("memservertest: %v", err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &Server{IMAPAddr: ln.Addr().String(), Delim: '/', Caps: caps}
}

// limitedSession announces an APPENDLIMIT.
type limitedSession struct {
	imapserver.SessionIMAP4rev2
	limit uint32
}

func (s limitedSession) AppendLimit() uint32 { return s.limit }

// Password returns the password of user.
func (s *Server) Password(user string) string { return servertest.Password(user) }

// Dial returns an IMAP client logged in as user. It is logged out and
// closed at test cleanup.
func (s *Server) Dial(t testing.TB, user string) *imapclient.Client {
	t.Helper()
	return servertest.Dial(t, s.IMAPAddr, user, s.Password(user), func() string { return "" })
}

// Folder returns the server's name of a personal folder given with "/" as
// separator: the name itself.
func (s *Server) Folder(name string) string { return servertest.FolderName(name, s.Prefix, s.Delim) }

// String describes the server for test logs.
func (s *Server) String() string {
	return fmt.Sprintf("imapmemserver on %s (caps %v)", s.IMAPAddr, s.Caps)
}
