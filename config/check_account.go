package config

import (
	"net"
	"strings"
	"time"
)

func checkAccount(a *Account, s *section, dir string) {
	checkName(a.Name, s)
	checkServer(a, s)
	checkLogin(a, s, dir)
	switch a.Protocol {
	case ProtocolIMAP:
		checkIMAP(a, s)
	case ProtocolPOP3:
		checkPOP3(a, s)
	}
	checkRetention(a, s)
	checkLimits(a, s)
	a.Compression = orDefault(a.Compression, CompressionFastest)
	oneOf(s, "compression", a.Compression, CompressionFastest, CompressionDefault, CompressionBetter)
	a.CAFile = resolvePath(s, "ca_file", dir, a.CAFile)
	a.PasswordFile = resolvePath(s, "password_file", dir, a.PasswordFile)
	checkEncryption(a, s, dir)
}

// checkName allows names that are safe as a directory name in the archive.
func checkName(name string, s *section) {
	switch {
	case name == "":
		s.errorf("name", "name: missing")
	case name == "." || name == "..":
		s.errorf("name", "name: %q is not allowed", name)
	case strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") != "":
		s.errorf("name", "name: %q may only hold a-z, 0-9, \".\", \"_\" and \"-\"", name)
	}
}

func checkUniqueNames(accounts []Account, sections []*section) {
	first := map[string]int{}
	for i, a := range accounts {
		j, seen := first[a.Name]
		switch {
		case a.Name == "":
		case seen:
			sections[i].errorf("name", "name: %q is already used by the account at line %d", a.Name, accounts[j].Line)
		default:
			first[a.Name] = i
		}
	}
}

func checkServer(a *Account, s *section) {
	protoOK := oneOf(s, "protocol", a.Protocol, ProtocolIMAP, ProtocolPOP3)
	checkHost(a.Host, s)
	a.TLS = orDefault(a.TLS, TLSImplicit)
	tlsOK := oneOf(s, "tls", a.TLS, TLSImplicit, TLSStartTLS, TLSNone)
	switch {
	case a.Port != 0:
		checkRange(s, "port", a.Port, 1, 65535)
	case protoOK && tlsOK:
		a.Port = defaultPort(a.Protocol, a.TLS)
	}
	if a.TLS == TLSNone && a.CAFile != "" {
		s.errorf("ca_file", "ca_file: not used with tls none")
	}
	if a.TLS == TLSNone && a.TLSServerName != "" {
		s.errorf("tls_server_name", "tls_server_name: not used with tls none")
	}
}

func checkHost(host string, s *section) {
	if host == "" {
		s.errorf("host", "host: missing (the mail server's name or address)")
		return
	}
	if _, port, err := net.SplitHostPort(host); err == nil {
		s.errorf("host", "host: %q holds a port; write it as port: %s", host, port)
	}
}

func defaultPort(protocol, tls string) int {
	implicit := tls == TLSImplicit
	switch {
	case protocol == ProtocolIMAP && implicit:
		return 993
	case protocol == ProtocolIMAP:
		return 143
	case implicit:
		return 995
	}
	return 110
}

func checkLogin(a *Account, s *section, dir string) {
	if a.Username == "" {
		s.errorf("username", "username: missing")
	}
	if a.Auth == "" && hasOAuth2(s) {
		a.Auth = AuthXOAuth2
	}
	if a.Auth != "" {
		oneOf(s, "auth", a.Auth, AuthPlain, AuthLogin, AuthXOAuth2, AuthOAuthBearer)
	}
	if a.usesToken() {
		checkToken(a, s, dir)
		return
	}
	if a.TokenCommand != "" {
		s.errorf("token_command", "token_command: only used with auth %s or %s", AuthXOAuth2, AuthOAuthBearer)
	}
	if hasOAuth2(s) {
		s.errorf("oauth2", "oauth2: only used with auth %s or %s", AuthXOAuth2, AuthOAuthBearer)
	}
	checkPasswordSource(a, s)
}

// checkToken checks an account with auth xoauth2 or oauthbearer: it takes
// exactly one of token_command and oauth2, and no password.
func checkToken(a *Account, s *section, dir string) {
	switch oauth := hasOAuth2(s); {
	case oauth && a.TokenCommand != "":
		s.errorf("oauth2", "oauth2: conflicts with token_command; set only one")
	case oauth:
		checkOAuth2(a, s, dir)
	case a.TokenCommand == "":
		s.errorf("auth", "auth %s needs token_command or oauth2", a.Auth)
	}
	for _, key := range a.passwordSources() {
		s.errorf(key, "%s: not used with auth %s, which takes token_command or oauth2", key, a.Auth)
	}
}

func checkPasswordSource(a *Account, s *section) {
	keys := a.passwordSources()
	switch len(keys) {
	case 0:
		s.errorf("", "no password: set one of password, password_file, password_env, password_command")
	case 1:
	default:
		s.errorf(keys[1], "%s: conflicts with %s; set only one password source", keys[1], keys[0])
	}
}

// passwordSources lists the password keys that are set, in a fixed order.
func (a *Account) passwordSources() []string {
	var keys []string
	for _, src := range [...]struct{ key, v string }{
		{"password", a.Password}, {"password_file", a.PasswordFile},
		{"password_env", a.PasswordEnv}, {"password_command", a.PasswordCommand},
	} {
		if src.v != "" {
			keys = append(keys, src.key)
		}
	}
	return keys
}

func (a *Account) usesToken() bool {
	return a.Auth == AuthXOAuth2 || a.Auth == AuthOAuthBearer
}

func checkIMAP(a *Account, s *section) {
	if a.POP3 != (POP3{}) {
		s.errorf("pop3", "pop3: only for protocol pop3")
	}
	if a.Connections == 0 {
		a.Connections = defaultConnections
	}
	checkRange(s, "connections", a.Connections, 1, maxConnections)
	checkGlobs(s, "folders.include", a.Folders.Include)
	checkGlobs(s, "folders.exclude", a.Folders.Exclude)
	if len(a.Folders.Include) == 0 {
		a.Folders.Include = []string{"*"}
	}
}

func checkGlobs(s *section, key string, patterns []string) {
	for _, p := range patterns {
		if p == "" {
			s.errorf(key, "%s: empty pattern", key)
		} else if _, err := compileGlob(p); err != nil {
			s.errorf(key, "%s: pattern %q %v", key, p, err)
		}
	}
}

func checkPOP3(a *Account, s *section) {
	if len(a.Folders.Include)+len(a.Folders.Exclude) > 0 {
		s.errorf("folders", "folders: only for protocol imap (a POP3 server has one mailbox)")
	}
	if a.Connections == 0 {
		a.Connections = 1
	}
	if a.Connections != 1 {
		s.errorf("connections", "connections: %d, but POP3 allows one connection per mailbox", a.Connections)
	}
	checkPOP3Options(&a.POP3, s)
}

func checkPOP3Options(o *POP3, s *section) {
	o.Mode = orDefault(o.Mode, POP3Keep)
	oneOf(s, "pop3.mode", o.Mode, POP3Keep, POP3Delete)
	checkMin(s, "pop3.delete_after_days", o.DeleteAfterDays, 0)
	if o.Mode == POP3Delete && o.DeleteAfterDays > 0 {
		s.errorf("pop3.delete_after_days", "pop3.delete_after_days: only with mode keep (mode delete removes each message once it is archived)")
	}
	if o.NoUIDL != "" {
		oneOf(s, "pop3.no_uidl", o.NoUIDL, NoUIDLHash)
	}
}

// minRetention is the shortest age a retention key accepts: a backup
// keeps what the server lost for a day at least.
const minRetention = Duration(24 * time.Hour)

func checkRetention(a *Account, s *section) {
	r := a.Retention
	for _, d := range []struct {
		key string
		v   Duration
	}{{"gone_after", r.GoneAfter}, {"folders_gone_after", r.FoldersGoneAfter}, {"pop3_deleted_after", r.POP3DeletedAfter}} {
		key := "retention." + d.key
		if s.given(key) && d.v < minRetention {
			s.errorf(key, "%s: %s is below the minimum of 1d (leave the key out to keep those messages)", key, d.v)
		}
	}
	if s.given("retention.runs") {
		checkMin(s, "retention.runs", r.Runs, 1)
	}
	if a.Protocol == ProtocolPOP3 && s.given("retention.folders_gone_after") {
		s.errorf("retention.folders_gone_after", "retention.folders_gone_after: only for protocol imap (a POP3 mailbox is one folder)")
	}
	if a.Protocol == ProtocolIMAP && s.given("retention.pop3_deleted_after") {
		s.errorf("retention.pop3_deleted_after", "retention.pop3_deleted_after: only for protocol pop3 (messages that POP3 mode delete removed from the server)")
	}
}

// maxConnectionsLimit bounds max_connections.
const maxConnectionsLimit = 64

// checkLimits checks the provider limits. max_connections caps the
// connections of every use of the account, so an IMAP backup uses no more
// than it: connections defaults to the smaller of the two, and more is
// an error.
func checkLimits(a *Account, s *section) {
	if s.given("max_connections") {
		checkRange(s, "max_connections", a.MaxConnections, 1, maxConnectionsLimit)
		if a.MaxConnections > 0 && a.Connections > a.MaxConnections {
			if s.given("connections") {
				s.errorf("connections", "connections: %d is more than max_connections: %d", a.Connections, a.MaxConnections)
			} else {
				a.Connections = a.MaxConnections
			}
		}
	}
	if s.given("throttle_backoff") && a.ThrottleBackoff < Duration(time.Minute) {
		s.errorf("throttle_backoff", "throttle_backoff: %s is below the minimum of 1m", a.ThrottleBackoff)
	}
}
