package transport

import (
	"context"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/pop3"
)

// IMAPDialer opens a logged-in IMAP connection, such as DialIMAP does for
// an endpoint; tests hand in their own.
type IMAPDialer func(ctx context.Context) (*imapclient.Client, error)

// POP3Dialer opens a logged-in POP3 session, such as DialPOP3 does for an
// endpoint; tests hand in their own.
type POP3Dialer func(ctx context.Context) (*pop3.Client, error)
