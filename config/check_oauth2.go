package config

import (
	"net"
	"net/url"
	"strings"
)

// Scopes of the presets. Google has one scope for IMAP and POP3; Microsoft
// has one for each protocol, and issues refresh tokens only with
// offline_access.
const (
	ScopeGoogleMail     = "https://mail.google.com/"
	ScopeMicrosoftIMAP  = "https://outlook.office.com/IMAP.AccessAsUser.All"
	ScopeMicrosoftPOP   = "https://outlook.office.com/POP.AccessAsUser.All"
	ScopeOfflineAccess  = "offline_access"
	defaultTenant       = "common"
	googleAuthURL       = "https://accounts.google.com/o/oauth2/auth"
	googleTokenURL      = "https://oauth2.googleapis.com/token"
	googleDeviceURL     = "https://oauth2.googleapis.com/device/code"
	googleRevocationURL = "https://oauth2.googleapis.com/revoke"
	microsoftBase       = "https://login.microsoftonline.com/"
)

// endpointKeys are the keys a custom provider sets and the presets fill in.
var endpointKeys = []string{"device_authorization_url", "authorization_url", "token_url", "revocation_url"}

// UsesOAuth2 reports whether the account logs in with mailkeep's built-in
// OAuth2 client (an oauth2 block) rather than a password or token_command.
func (a *Account) UsesOAuth2() bool { return a.OAuth2.Provider != "" }

// hasOAuth2 reports whether the account's section has an oauth2 key.
func hasOAuth2(s *section) bool {
	_, ok := s.lines["oauth2"]
	return ok
}

// checkOAuth2 validates an oauth2 block and fills in the preset of its
// provider.
func checkOAuth2(a *Account, s *section, dir string) {
	o := &a.OAuth2
	if o.Provider == "" {
		// Provider is what marks the block as set: keep it set after an
		// error, so that the other checks see an OAuth2 account.
		s.errorf("oauth2.provider", "oauth2.provider: missing (one of google, microsoft, custom)")
		o.Provider = ProviderCustom
	} else if !oneOf(s, "oauth2.provider", o.Provider, ProviderGoogle, ProviderMicrosoft, ProviderCustom) {
		return
	}
	if o.ClientID == "" {
		s.errorf("oauth2.client_id", "oauth2.client_id: missing (the client ID of the app registered with the provider)")
	}
	checkClientSecret(o, s)
	o.ClientSecretFile = resolvePath(s, "oauth2.client_secret_file", dir, o.ClientSecretFile)
	if o.Tenant != "" && o.Provider != ProviderMicrosoft {
		s.errorf("oauth2.tenant", "oauth2.tenant: only with provider microsoft")
	}
	checkScopes(o, s)
	switch o.Provider {
	case ProviderGoogle:
		presetGoogle(o, s)
	case ProviderMicrosoft:
		presetMicrosoft(o, a.Protocol, s)
	case ProviderCustom:
		checkCustom(o, s)
	}
}

func checkClientSecret(o *OAuth2, s *section) {
	switch {
	case o.ClientSecretFile != "" && o.ClientSecretEnv != "":
		s.errorf("oauth2.client_secret_env", "oauth2.client_secret_env: conflicts with client_secret_file; set only one")
	case o.Provider == ProviderGoogle && o.ClientSecretFile == "" && o.ClientSecretEnv == "":
		s.errorf("oauth2", "oauth2: provider google needs client_secret_file or client_secret_env (Google issues a secret with every desktop app client)")
	}
}

func checkScopes(o *OAuth2, s *section) {
	for _, sc := range o.Scopes {
		if sc == "" || strings.ContainsAny(sc, " \t\r\n\"\\") {
			s.errorf("oauth2.scopes", "oauth2.scopes: %q is not a scope (one word each, no spaces or quotes)", sc)
		}
	}
}

// noEndpoints reports endpoint keys set for a provider with a preset.
func noEndpoints(o *OAuth2, s *section) {
	for i, v := range endpointValues(o) {
		if *v != "" {
			s.errorf("oauth2."+endpointKeys[i], "oauth2.%s: only with provider custom (%s's endpoints are built in)", endpointKeys[i], o.Provider)
		}
	}
}

func endpointValues(o *OAuth2) []*string {
	return []*string{&o.DeviceAuthorizationURL, &o.AuthorizationURL, &o.TokenURL, &o.RevocationURL}
}

func presetGoogle(o *OAuth2, s *section) {
	noEndpoints(o, s)
	o.AuthorizationURL, o.TokenURL = googleAuthURL, googleTokenURL
	o.DeviceAuthorizationURL, o.RevocationURL = googleDeviceURL, googleRevocationURL
	if len(o.Scopes) == 0 {
		o.Scopes = []string{ScopeGoogleMail}
	}
}

// presetMicrosoft fills in the Microsoft identity platform's v2.0
// endpoints of the tenant. Microsoft offers no revocation endpoint.
func presetMicrosoft(o *OAuth2, protocol string, s *section) {
	noEndpoints(o, s)
	o.Tenant = orDefault(o.Tenant, defaultTenant)
	if strings.Trim(strings.ToLower(o.Tenant), "abcdefghijklmnopqrstuvwxyz0123456789.-") != "" {
		s.errorf("oauth2.tenant", "oauth2.tenant: %q is not a tenant (common, organizations, consumers, a tenant ID or a domain name)", o.Tenant)
		return
	}
	base := microsoftBase + o.Tenant + "/oauth2/v2.0/"
	o.AuthorizationURL, o.TokenURL, o.DeviceAuthorizationURL = base+"authorize", base+"token", base+"devicecode"
	if len(o.Scopes) > 0 {
		return
	}
	scope := ScopeMicrosoftIMAP
	if protocol == ProtocolPOP3 {
		scope = ScopeMicrosoftPOP
	}
	o.Scopes = []string{scope, ScopeOfflineAccess}
}

func checkCustom(o *OAuth2, s *section) {
	if o.TokenURL == "" {
		s.errorf("oauth2.token_url", "oauth2.token_url: missing (provider custom needs its token endpoint)")
	}
	if o.DeviceAuthorizationURL == "" && o.AuthorizationURL == "" {
		s.errorf("oauth2", "oauth2: provider custom needs device_authorization_url or authorization_url (or both)")
	}
	for i, v := range endpointValues(o) {
		if *v != "" {
			checkEndpointURL(s, "oauth2."+endpointKeys[i], *v)
		}
	}
}

// checkEndpointURL accepts https URLs, and http ones only to a loopback
// address (a test server, or a provider behind a local proxy).
func checkEndpointURL(s *section, key, v string) {
	u, err := url.Parse(v)
	switch {
	case err != nil || u.Host == "" || u.User != nil || u.Fragment != "":
		s.errorf(key, "%s: %q is not an absolute URL", key, v)
	case u.Scheme == "https":
	case u.Scheme == "http" && loopbackHost(u.Hostname()):
	default:
		s.errorf(key, "%s: %q: want an https URL (http only to a loopback address)", key, v)
	}
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
