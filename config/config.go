package config

import (
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
)

// DefaultPath is the configuration file read when neither a flag nor
// $MAILKEEP_CONFIG names another.
const DefaultPath = "/etc/mailkeep/mailkeep.yaml"

// EnvPath is the environment variable that names the configuration file.
const EnvPath = "MAILKEEP_CONFIG"

// Values of Account.Protocol.
const (
	ProtocolIMAP = "imap"
	ProtocolPOP3 = "pop3"
)

// Values of Account.TLS.
const (
	TLSImplicit = "implicit" // TLS from the first byte
	TLSStartTLS = "starttls" // plain connection upgraded with STARTTLS/STLS
	TLSNone     = "none"     // no encryption
)

// Values of Account.Auth; "" lets the client choose.
const (
	AuthPlain       = "plain"
	AuthLogin       = "login"
	AuthXOAuth2     = "xoauth2"
	AuthOAuthBearer = "oauthbearer"
)

// Values of OAuth2.Provider.
const (
	ProviderGoogle    = "google"
	ProviderMicrosoft = "microsoft"
	ProviderCustom    = "custom"
)

// Values of Account.Compression.
const (
	CompressionFastest = "fastest"
	CompressionDefault = "default"
	CompressionBetter  = "better"
)

// Values of POP3.Mode and POP3.NoUIDL.
const (
	POP3Keep   = "keep"
	POP3Delete = "delete"
	NoUIDLHash = "hash"
)

// Config is one parsed and checked configuration file. After Parse every
// default is filled in and relative paths are absolute.
type Config struct {
	Path     string    `yaml:"-"`         // the file it came from
	Archive  string    `yaml:"archive"`   // directory of the archive
	StateDir string    `yaml:"state_dir"` // OAuth2 tokens; outside Archive; see DefaultStateDir
	Accounts []Account `yaml:"accounts"`  // at least one
	Agent    Agent     `yaml:"agent"`
	Serve    *Serve    `yaml:"serve"` // nil: no serve section
}

// Account is one mailbox to back up. Exactly one of the four password
// sources is set, unless Auth is AuthXOAuth2 or AuthOAuthBearer: those take
// TokenCommand or OAuth2 instead. Account.Secret reads a password or runs
// TokenCommand; the tokens of OAuth2 come from mailkeep's token store.
type Account struct {
	Name            string     `yaml:"name"`             // unique; [a-z0-9._-]+
	Protocol        string     `yaml:"protocol"`         // ProtocolIMAP or ProtocolPOP3
	Host            string     `yaml:"host"`             // server name or address, no port
	Port            int        `yaml:"port"`             // default from Protocol and TLS
	TLS             string     `yaml:"tls"`              // TLSImplicit (default), TLSStartTLS, TLSNone
	CAFile          string     `yaml:"ca_file"`          // PEM bundle of a private CA
	TLSServerName   string     `yaml:"tls_server_name"`  // SNI and verify name, if not Host
	Username        string     `yaml:"username"`         // login name
	Password        string     `yaml:"password"`         // the password itself
	PasswordFile    string     `yaml:"password_file"`    // file holding the password
	PasswordEnv     string     `yaml:"password_env"`     // environment variable holding it
	PasswordCommand string     `yaml:"password_command"` // sh -c command printing it
	Auth            string     `yaml:"auth"`             // "" = let the client choose
	TokenCommand    string     `yaml:"token_command"`    // prints an OAuth token
	OAuth2          OAuth2     `yaml:"oauth2"`           // built-in OAuth2; see Account.UsesOAuth2
	Folders         Folders    `yaml:"folders"`          // IMAP only
	Connections     int        `yaml:"connections"`      // IMAP 1..16 (default 4); POP3 1
	Schedule        string     `yaml:"schedule"`         // cron text, parsed elsewhere
	Compression     string     `yaml:"compression"`      // CompressionFastest (default), …
	POP3            POP3       `yaml:"pop3"`             // POP3 only
	Retention       Retention  `yaml:"retention"`        // what prune takes; zero: keep everything
	Replicate       []Replica  `yaml:"replicate"`        // copies of the archive elsewhere
	Index           *bool      `yaml:"index"`            // search index; nil = true unless encrypted (see IndexOn)
	Encryption      Encryption `yaml:"encryption"`       // age encryption at rest; see Account.Encrypted
	// Provider limits (see doc/design.md, "Provider limits").
	MaxConnections  int      `yaml:"max_connections"`  // connections to the server at once, all uses; 0 = no cap
	Bandwidth       Rate     `yaml:"bandwidth"`        // bytes a second read from the server, all connections; 0 = no cap
	ThrottleBackoff Duration `yaml:"throttle_backoff"` // wait after a throttled run whose server suggests none; default 1h
	Line            int      `yaml:"-"`                // line of the account in the file
}

// OAuth2 is an account's built-in OAuth2 client. After Parse, the
// endpoints and scopes of the google and microsoft presets are filled in,
// and StateDir is the configuration's state_dir.
type OAuth2 struct {
	Provider               string   `yaml:"provider"`                 // ProviderGoogle, ProviderMicrosoft or ProviderCustom
	ClientID               string   `yaml:"client_id"`                // the OAuth2 client (application) ID
	ClientSecretFile       string   `yaml:"client_secret_file"`       // file holding the client secret, if one was issued
	ClientSecretEnv        string   `yaml:"client_secret_env"`        // environment variable holding it
	Tenant                 string   `yaml:"tenant"`                   // microsoft: common (default), organizations, consumers or a tenant ID
	DeviceAuthorizationURL string   `yaml:"device_authorization_url"` // RFC 8628 endpoint
	AuthorizationURL       string   `yaml:"authorization_url"`        // RFC 6749 authorization endpoint
	TokenURL               string   `yaml:"token_url"`                // RFC 6749 token endpoint
	RevocationURL          string   `yaml:"revocation_url"`           // RFC 7009 endpoint; "" = none
	Scopes                 []string `yaml:"scopes"`                   // default from the provider and protocol
	StateDir               string   `yaml:"-"`                        // Config.StateDir
}

// Folders selects IMAP folders by glob patterns; see Account.MatchFolder.
type Folders struct {
	Include []string `yaml:"include"` // default ["*"]
	Exclude []string `yaml:"exclude"`
}

// POP3 holds the settings that only POP3 accounts have.
type POP3 struct {
	Mode            string `yaml:"mode"`              // POP3Keep (default) or POP3Delete
	DeleteAfterDays int    `yaml:"delete_after_days"` // with keep: delete once archived and this old
	NoUIDL          string `yaml:"no_uidl"`           // "" = fail without UIDL; NoUIDLHash
}

// Retention says what "mailkeep prune", and the agent after each backup
// that ends ok, take out of an account's archive. The zero Retention (the
// key left out) keeps everything.
type Retention struct {
	GoneAfter        Duration `yaml:"gone_after"`         // messages deleted on the server this long ago
	FoldersGoneAfter Duration `yaml:"folders_gone_after"` // IMAP: folders deleted on the server this long ago, with their messages
	Runs             int      `yaml:"runs"`               // keep the as-of history of this many runs
	POP3DeletedAfter Duration `yaml:"pop3_deleted_after"` // POP3: messages mailkeep deleted from the server this long ago
}

// IsZero reports whether r keeps everything.
func (r Retention) IsZero() bool { return r == Retention{} }

// Agent holds the settings of the long-running agent.
type Agent struct {
	Timezone      string   `yaml:"timezone"`       // IANA name; "" = local time
	MaxConcurrent int      `yaml:"max_concurrent"` // accounts backed up at once; default 4
	Jitter        Duration `yaml:"jitter"`         // random delay added to each scheduled run
	Metrics       string   `yaml:"metrics"`        // host:port for /metrics and /healthz; "" = off
	HealthMaxAge  Duration `yaml:"health_max_age"` // 0 = decided by the agent
	StopTimeout   Duration `yaml:"stop_timeout"`   // grace period on shutdown; default 30s
}

// Load reads and parses the configuration file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, path)
}

// Account returns the account called name. The error for an unknown name
// lists the known ones.
func (c *Config) Account(name string) (*Account, error) {
	names := make([]string, len(c.Accounts))
	for i := range c.Accounts {
		if c.Accounts[i].Name == name {
			return &c.Accounts[i], nil
		}
		names[i] = c.Accounts[i].Name
	}
	slices.Sort(names)
	return nil, fmt.Errorf("no account %q in %s (accounts: %s)", name, c.Path, strings.Join(names, ", "))
}

// IndexOn reports whether backups of the account fill its search index:
// the "index" key, true unless set to false. An encrypted account has no
// index: it would hold the words of every message in clear text (and
// index: true with encryption is a configuration error).
func (a *Account) IndexOn() bool { return !a.Encrypted() && (a.Index == nil || *a.Index) }

// Address returns host:port, ready for net.Dial.
func (a *Account) Address() string {
	return net.JoinHostPort(a.Host, strconv.Itoa(a.Port))
}
