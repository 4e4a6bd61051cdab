package transport

import "github.com/emersion/go-sasl"

// xoauth2 is the XOAUTH2 mechanism of Gmail and Microsoft 365, which
// go-sasl does not include.
type xoauth2 struct{ user, token string }

func newXOAuth2(user, token string) sasl.Client { return &xoauth2{user, token} }

func (x *xoauth2) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

// Next answers a server's error challenge with an empty response, after
// which the server fails the exchange with its tagged NO.
func (x *xoauth2) Next(challenge []byte) ([]byte, error) { return []byte{}, nil }
