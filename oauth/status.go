package oauth

import (
	"errors"
	"slices"
	"time"
)

// Status describes an account's stored tokens, never the tokens themselves.
type Status struct {
	Account      string
	Provider     string
	TokenFile    string
	HasTokens    bool
	Scopes       []string  // granted, or else requested at sign-in
	AccessExpiry time.Time // zero: unknown, or no tokens
	HasRefresh   bool      // a refresh token is stored
	LoggedIn     time.Time // the sign-in that started the grant
	RefreshFrom  time.Time // when the refresh token was issued
	Problem      string    // what stands in the way of the next backup, if anything
	Warning      string    // advice, such as Google's 7-day limit for "Testing" apps
}

// Status reads the token file; it refreshes nothing and takes no lock (the
// file is replaced atomically, so it is always whole).
func (s *Source) Status() (Status, error) {
	st := Status{Account: s.cfg.Account, Provider: s.cfg.Provider, TokenFile: s.store.path()}
	rec, err := s.store.read()
	switch {
	case errors.Is(err, errNoTokens):
		st.Problem = "not signed in: run `" + s.cfg.loginCommand() + "`"
		return st, nil
	case err != nil:
		return st, err
	}
	st.HasTokens, st.Scopes, st.AccessExpiry = true, slices.Clone(rec.Scopes), rec.Expiry
	st.HasRefresh, st.LoggedIn, st.RefreshFrom = rec.RefreshToken != "", rec.LoggedIn, rec.RefreshFrom
	switch {
	case rec.ClientID != s.cfg.ClientID || rec.TokenURL != s.cfg.TokenURL:
		st.Problem = "issued to another client (client_id or provider changed): run `" + s.cfg.loginCommand() + "`"
	case !st.HasRefresh && !s.fresh(rec):
		st.Problem = "access token expired and no refresh token: run `" + s.cfg.loginCommand() + "`"
	}
	if s.testingAgeNear(rec) {
		st.Warning = ageWarning(s.cfg.Account, s.cfg.Now().Sub(rec.RefreshFrom))
	}
	return st, nil
}
