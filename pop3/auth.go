package pop3

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
)

// maxAuthLine is the longest AUTH command that may carry its initial
// response (RFC 5034 section 4: 255 octets including CRLF).
const maxAuthLine = 255

// Login logs in with USER and PASS (RFC 1939). A refused password gives an
// error for which errors.Is(err, ErrAuth); a refusal whose response code
// says the maildrop is busy or the server is in trouble (IN-USE,
// LOGIN-DELAY, SYS/TEMP) is a *ServerError without ErrAuth instead.
func (c *Client) Login(ctx context.Context, user, pass string) error {
	err := c.do(ctx, func() error {
		if _, err := c.command("USER", user); err != nil {
			return err
		}
		_, err := c.command("PASS", pass)
		return err
	})
	if err != nil {
		return fmt.Errorf("pop3: login %s: %w", user, authError(err))
	}
	return nil
}

// AuthSASL authenticates with a one-step SASL mechanism (PLAIN, XOAUTH2,
// OAUTHBEARER…): the client sends initial and the server accepts or
// refuses. A server challenge is answered with "*" (cancel), and its text,
// which carries the reason for XOAUTH2 and OAUTHBEARER, goes into the
// error. The initial response travels on the AUTH line when it fits in 255
// octets, and after an empty challenge otherwise. Its errors are those of
// Login.
func (c *Client) AuthSASL(ctx context.Context, mech string, initial []byte) error {
	if !validMech(mech) {
		return fmt.Errorf("pop3: auth: %w: mechanism %q", errBadArgument, mech)
	}
	err := c.do(ctx, func() error { return c.authSASL(mech, initial) })
	if err != nil {
		return fmt.Errorf("pop3: auth %s: %w", mech, authError(err))
	}
	return nil
}

func (c *Client) authSASL(mech string, initial []byte) error {
	resp := "="
	if len(initial) > 0 {
		resp = base64.StdEncoding.EncodeToString(initial)
	}
	inline := len("AUTH ")+len(mech)+len(" ")+len(resp)+len("\r\n") <= maxAuthLine
	var err error
	if inline {
		err = c.send("AUTH", mech, resp)
	} else {
		err = c.send("AUTH", mech)
	}
	if err != nil {
		return err
	}
	st, text, err := c.readAuthStatus()
	if err == nil && !inline && st == statusCont {
		if err := c.sendSecret(resp); err != nil {
			return err
		}
		st, text, err = c.readAuthStatus()
	}
	if err != nil || st == statusOK {
		return err
	}
	if st == statusCont {
		return c.cancelAuth(text)
	}
	return newServerError("AUTH", text)
}

// cancelAuth answers a challenge the one-step exchange has no answer for
// with "*" and reads the server's final -ERR.
func (c *Client) cancelAuth(challenge string) error {
	if err := c.sendSecret("*"); err != nil {
		return err
	}
	st, text, err := c.readAuthStatus()
	if err != nil {
		return err
	}
	if st != statusErr {
		return fmt.Errorf("%w: AUTH cancelled, but the server did not answer -ERR", errProtocol)
	}
	reason := challenge
	if dec, err := base64.StdEncoding.DecodeString(challenge); err == nil {
		reason = string(dec)
	}
	return fmt.Errorf("server challenge %s: %w", quote(sanitize(reason)), newServerError("AUTH", text))
}

func (c *Client) readAuthStatus() (status, string, error) {
	line, err := c.readLine()
	if err != nil {
		return 0, "", err
	}
	return parseStatus(line)
}

// authError marks a -ERR to a login command as ErrAuth, unless its
// response code defers the login.
func authError(err error) error {
	var se *ServerError
	if errors.As(err, &se) && !se.deferred() {
		return fmt.Errorf("%w: %w", ErrAuth, err)
	}
	return err
}

// validMech reports whether mech is a SASL mechanism name (RFC 4422: 1 to
// 20 of A-Z, 0-9, '-' and '_'; lower case is accepted too).
func validMech(mech string) bool {
	if mech == "" || len(mech) > 20 {
		return false
	}
	for _, r := range mech {
		if !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
