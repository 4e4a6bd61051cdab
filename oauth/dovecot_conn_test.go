package oauth_test

import (
	"context"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/pop3"
)

type imapPing struct{ c *imapclient.Client }

func (p imapPing) ping(context.Context) error { return p.c.Noop().Wait() }
func (p imapPing) close()                     { p.c.Logout().Wait(); p.c.Close() }

type pop3Ping struct{ c *pop3.Client }

func (p pop3Ping) ping(ctx context.Context) error { return p.c.Noop(ctx) }
func (p pop3Ping) close()                         { p.c.Quit(context.Background()); p.c.Close() }
