package transport

import (
	"encoding/json"

	"github.com/emersion/go-sasl"
)

// xoauth2 is the XOAUTH2 mechanism of Gmail and Microsoft 365, which
// go-sasl does not include.
type xoauth2 struct {
	user, token string
	challenge   []byte // the server's error challenge, if it sent one
}

func newXOAuth2(user, token string) *xoauth2 { return &xoauth2{user: user, token: token} }

func (x *xoauth2) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

// Next answers a server's error challenge with an empty response, after
// which the server fails the exchange with its tagged NO.
func (x *xoauth2) Next(challenge []byte) ([]byte, error) {
	x.challenge = challenge
	return []byte{}, nil
}

// result is the outcome of the exchange: after an error challenge, the
// token was refused, whatever the server answered to the empty response
// (Dovecot answers go-imap's "=" with BAD rather than NO).
func (x *xoauth2) result(err error) error {
	if err == nil || x.challenge == nil {
		return err
	}
	var reason struct {
		Status string `json:"status"`
	}
	json.Unmarshal(x.challenge, &reason)
	return &sasl.OAuthBearerError{Status: reason.Status}
}
