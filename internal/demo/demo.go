// Package demo runs an in-process IMAP server filled with generated mail,
// so that mailkeep can show what it does without an outside server.
package demo

import (
	"context"
	"fmt"
	"log"
	"net"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/mailkeep/mailkeep/internal/corpus"
)

// The demo accounts' credentials: User's mail is backed up and restored
// into RestoreUser's empty mailbox.
const (
	User        = "demo"
	RestoreUser = "restored"
	Password    = "demo-password"
)

// Server is a running demo IMAP server.
type Server struct {
	Addr string
	srv  *imapserver.Server
	seed int64
}

// Start listens on a free loopback port and fills the account with count
// generated messages across nested and non-ASCII folders.
func Start(ctx context.Context, count int) (*Server, error) {
	mem := imapmemserver.New()
	for _, name := range []string{User, RestoreUser} {
		user := imapmemserver.NewUser(name, Password)
		if err := user.Create("INBOX", nil); err != nil {
			return nil, err
		}
		mem.AddUser(user)
	}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapESearch: {}, imap.CapLiteralPlus: {}, imap.CapUIDPlus: {}},
		InsecureAuth: true,
		Logger:       log.New(nopWriter{}, "", 0),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go srv.Serve(ln)
	s := &Server{Addr: ln.Addr().String(), srv: srv, seed: 1}
	err = s.load(ctx, corpus.Generate(corpus.Options{Seed: s.seed, Count: count}))
	if err != nil {
		srv.Close()
		return nil, err
	}
	return s, nil
}

// Deliver adds n new messages, as if mail had arrived.
func (s *Server) Deliver(ctx context.Context, n, offset int) error {
	return s.load(ctx, corpus.More(corpus.Options{Seed: s.seed}, n, offset))
}

func (s *Server) load(ctx context.Context, msgs []corpus.Message) error {
	c, err := imapclient.DialInsecure(s.Addr, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Login(User, Password).Wait(); err != nil {
		return fmt.Errorf("demo login: %w", err)
	}
	return corpus.Load(ctx, c, msgs)
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }
