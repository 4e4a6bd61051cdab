package oauth

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Providers.
const (
	Google    = "google"
	Microsoft = "microsoft"
	Custom    = "custom"
)

// GoogleMailScope is the scope Google requires for IMAP and POP3. Google's
// device flow does not grant it.
const GoogleMailScope = "https://mail.google.com/"

// Defaults of Config.
const (
	DefaultMargin         = 5 * time.Minute
	DefaultRequestTimeout = 30 * time.Second
	// googleTestingAge is when a Google refresh token is near the 7 days
	// after which Google expires those of apps in "Testing" status.
	googleTestingAge = 6 * 24 * time.Hour
)

// Config describes one account's OAuth2 client and where its tokens live.
// The zero values of the options are sensible defaults.
type Config struct {
	Account       string // the account's name: names its token file, appears in messages
	Provider      string // Google, Microsoft or Custom
	ClientID      string
	ClientSecret  string // "" for a public client
	AuthURL       string // authorization endpoint; "" = no browser flow
	DeviceAuthURL string // device authorization endpoint; "" = no device flow
	TokenURL      string
	RevocationURL string // RFC 7009 endpoint; "" = the provider offers none
	Scopes        []string
	StateDir      string // the configuration's state_dir; tokens go in StateDir/oauth2

	HTTPClient     *http.Client     // nil = a client whose requests time out after RequestTimeout
	RequestTimeout time.Duration    // bound on each request to the provider; 0 = DefaultRequestTimeout
	Margin         time.Duration    // refresh this long before expiry; 0 = DefaultMargin
	Now            func() time.Time // nil = time.Now
	Log            *slog.Logger     // nil = no logs
}

func (c *Config) check() error {
	var errs []error
	if c.Account == "" || strings.ContainsAny(c.Account, `/\`) || c.Account == "." || c.Account == ".." {
		errs = append(errs, fmt.Errorf("account name %q cannot name a token file", c.Account))
	}
	if !slices.Contains([]string{Google, Microsoft, Custom}, c.Provider) {
		errs = append(errs, fmt.Errorf("unknown provider %q", c.Provider))
	}
	if c.ClientID == "" || c.TokenURL == "" {
		errs = append(errs, errors.New("client ID and token URL are required"))
	}
	if c.StateDir == "" {
		errs = append(errs, errors.New("no state directory"))
	}
	return errors.Join(errs...)
}

// withDefaults returns c with its options filled in.
func (c Config) withDefaults() Config {
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: c.RequestTimeout}
	}
	if c.Margin <= 0 {
		c.Margin = DefaultMargin
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c.Scopes = slices.Clone(c.Scopes)
	return c
}

// oauth2Config is the golang.org/x/oauth2 view of c. Client credentials go
// in the request body: Google and Microsoft accept that, and unlike the
// default it never sends a failing request twice.
func (c *Config) oauth2Config(redirectURL string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     c.ClientID,
		ClientSecret: c.ClientSecret,
		Endpoint: oauth2.Endpoint{AuthURL: c.AuthURL, DeviceAuthURL: c.DeviceAuthURL, TokenURL: c.TokenURL,
			AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: redirectURL,
		Scopes:      c.Scopes,
	}
}

// loginCommand is what the user runs to sign the account in again.
func (c *Config) loginCommand() string {
	return "mailkeep auth login " + c.Account
}

// wantsGoogleMail reports whether the account asks Google for the mail
// scope, which Google's device flow refuses.
func (c *Config) wantsGoogleMail() bool {
	return c.Provider == Google && slices.Contains(c.Scopes, GoogleMailScope)
}
