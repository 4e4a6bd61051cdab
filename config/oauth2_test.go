package config

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/oauth2/endpoints"
)

// oauthBase is a valid account with a custom OAuth2 provider. Lines added
// by withOAuth start at line 13, inside the oauth2 block when indented by
// six spaces.
const oauthBase = `archive: /srv/mail
state_dir: /var/lib/mk
accounts:
  - name: work
    protocol: imap
    host: mail.example.com
    username: me
    oauth2:
      provider: custom
      client_id: abc
      token_url: https://id.example.com/token
      device_authorization_url: https://id.example.com/device
`

func withOAuth(extra string) string { return oauthBase + extra }

func editOAuth(old, new string) string { return strings.Replace(oauthBase, old, new, 1) }

// googleOAuth turns the base account into a google one.
func googleOAuth(extra string) string {
	s := strings.Replace(oauthBase, "provider: custom", "provider: google", 1)
	s = strings.Replace(s, "      token_url: https://id.example.com/token\n      device_authorization_url: https://id.example.com/device\n",
		"      client_secret_env: GS\n", 1)
	return s + extra
}

func TestParseOAuth2Errors(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"provider missing", editOAuth("      provider: custom\n", ""),
			[]string{`t.yaml:8: account "work": oauth2.provider: missing (one of google, microsoft, custom)`}},
		{"provider unknown", editOAuth("provider: custom", "provider: yahoo"),
			[]string{`t.yaml:9: account "work": oauth2.provider: "yahoo" is not one of google, microsoft, custom`}},
		{"client_id missing", editOAuth("      client_id: abc\n", ""),
			[]string{`t.yaml:8: account "work": oauth2.client_id: missing (the client ID of the app registered with the provider)`}},
		{"two client secrets", withOAuth("      client_secret_file: s\n      client_secret_env: S\n"),
			[]string{`t.yaml:14: account "work": oauth2.client_secret_env: conflicts with client_secret_file; set only one`}},
		{"google without a secret", strings.Replace(googleOAuth(""), "      client_secret_env: GS\n", "", 1),
			[]string{`t.yaml:8: account "work": oauth2: provider google needs client_secret_file or client_secret_env (Google issues a secret with every desktop app client)`}},
		{"tenant without microsoft", withOAuth("      tenant: common\n"),
			[]string{`t.yaml:13: account "work": oauth2.tenant: only with provider microsoft`}},
		{"bad tenant", strings.Replace(googleOAuth(""), "provider: google\n", "provider: microsoft\n      tenant: a/b\n", 1),
			[]string{`t.yaml:10: account "work": oauth2.tenant: "a/b" is not a tenant (common, organizations, consumers, a tenant ID or a domain name)`}},
		{"endpoint with google", googleOAuth("      token_url: https://evil.example.com/token\n"),
			[]string{`t.yaml:12: account "work": oauth2.token_url: only with provider custom (google's endpoints are built in)`}},
		{"custom without token_url", editOAuth("      token_url: https://id.example.com/token\n", ""),
			[]string{`t.yaml:8: account "work": oauth2.token_url: missing (provider custom needs its token endpoint)`}},
		{"custom without a flow", editOAuth("      device_authorization_url: https://id.example.com/device\n", ""),
			[]string{`t.yaml:8: account "work": oauth2: provider custom needs device_authorization_url or authorization_url (or both)`}},
		{"plain http endpoint", editOAuth("token_url: https://id.example.com/token", "token_url: http://id.example.com/token"),
			[]string{`t.yaml:11: account "work": oauth2.token_url: "http://id.example.com/token": want an https URL (http only to a loopback address)`}},
		{"relative endpoint", withOAuth("      revocation_url: /revoke\n"),
			[]string{`t.yaml:13: account "work": oauth2.revocation_url: "/revoke" is not an absolute URL`}},
		{"scope with a space", withOAuth("      scopes: [\"a b\"]\n"),
			[]string{`t.yaml:13: account "work": oauth2.scopes: "a b" is not a scope (one word each, no spaces or quotes)`}},
		{"empty scope", withOAuth("      scopes: [\"\"]\n"),
			[]string{`t.yaml:13: account "work": oauth2.scopes: "" is not a scope (one word each, no spaces or quotes)`}},
		{"unknown key", withOAuth("      client_secret: x\n"),
			[]string{`t.yaml:13: unknown key "oauth2.client_secret" in account "work" (did you mean "client_secret_file"?)`}},
		{"oauth2 not a mapping", editOAuth("    oauth2:\n", "    oauth2: google\n    x:\n"),
			[]string{`t.yaml:8: account "work": oauth2: want a mapping of keys, got "google"`}},
		{"oauth2 and token_command", withOAuth("    token_command: tok\n"),
			[]string{`t.yaml:8: account "work": oauth2: conflicts with token_command; set only one`}},
		{"oauth2 and a password", withOAuth("    password_env: PW\n"),
			[]string{`t.yaml:13: account "work": password_env: not used with auth xoauth2, which takes token_command or oauth2`}},
		{"oauth2 with auth plain", withOAuth("    auth: plain\n    password_env: PW\n"),
			[]string{`t.yaml:8: account "work": oauth2: only used with auth xoauth2 or oauthbearer`}},
		{"state_dir inside archive", editOAuth("state_dir: /var/lib/mk", "state_dir: /srv/mail/state"),
			[]string{`t.yaml:2: state_dir: "/srv/mail/state" lies inside archive "/srv/mail"; keep it outside, so that a copy of the archive never carries tokens`}},
		{"state_dir is archive", editOAuth("state_dir: /var/lib/mk", "state_dir: /srv/mail/"),
			[]string{`t.yaml:2: state_dir: "/srv/mail" lies inside archive "/srv/mail"; keep it outside, so that a copy of the archive never carries tokens`}},
		{"relative state_dir inside archive", editOAuth("state_dir: /var/lib/mk", "state_dir: ../srv/mail/x"),
			[]string{`t.yaml:2: state_dir: "/srv/mail/x" lies inside archive "/srv/mail"; keep it outside, so that a copy of the archive never carries tokens`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in), "/etc/t.yaml")
			if err == nil {
				t.Fatalf("Parse succeeded, want %q", tt.want)
			}
			lines := strings.Split(strings.ReplaceAll(err.Error(), "/etc/t.yaml", "t.yaml"), "\n")
			for _, w := range tt.want {
				if !containsLine(lines, w) {
					t.Errorf("error lacks line\n  %s\ngot\n  %s", w, strings.Join(lines, "\n  "))
				}
			}
		})
	}
}

// A default state directory inside the archive is refused at the archive's
// line, since state_dir is not in the file.
func TestParseDefaultStateDirInsideArchive(t *testing.T) {
	t.Setenv("STATE_DIRECTORY", "/srv/mail/state:/other")
	in := strings.Replace(oauthBase, "state_dir: /var/lib/mk\n", "", 1)
	_, err := Parse([]byte(in), "t.yaml")
	want := `t.yaml:1: state_dir: "/srv/mail/state" lies inside archive "/srv/mail"; keep it outside, so that a copy of the archive never carries tokens`
	if err == nil || err.Error() != want {
		t.Errorf("Parse error\n got %v\nwant %s", err, want)
	}
}

// A state directory reached through a symbolic link into the archive is
// refused too.
func TestParseStateDirLinkedIntoArchive(t *testing.T) {
	dir := t.TempDir()
	archive := filepath.Join(dir, "archive")
	if err := os.MkdirAll(filepath.Join(archive, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(archive, "x"), filepath.Join(dir, "state")); err != nil {
		t.Fatal(err)
	}
	in := strings.Replace(oauthBase, "/srv/mail", archive, 1)
	in = strings.Replace(in, "/var/lib/mk", filepath.Join(dir, "state"), 1)
	if _, err := Parse([]byte(in), "t.yaml"); err == nil || !strings.Contains(err.Error(), "lies inside archive") {
		t.Errorf("Parse error = %v, want the state directory refused", err)
	}
}

func TestParseOAuth2Presets(t *testing.T) {
	ms := strings.Replace(googleOAuth(""), "provider: google\n", "provider: microsoft\n", 1)
	tests := []struct {
		name, in string
		want     OAuth2
	}{
		{"google", googleOAuth(""), OAuth2{
			Provider: "google", ClientID: "abc", ClientSecretEnv: "GS",
			AuthorizationURL:       "https://accounts.google.com/o/oauth2/auth",
			TokenURL:               "https://oauth2.googleapis.com/token",
			DeviceAuthorizationURL: "https://oauth2.googleapis.com/device/code",
			RevocationURL:          "https://oauth2.googleapis.com/revoke",
			Scopes:                 []string{"https://mail.google.com/"}, StateDir: "/var/lib/mk",
		}},
		{"microsoft imap", ms, OAuth2{
			Provider: "microsoft", ClientID: "abc", ClientSecretEnv: "GS", Tenant: "common",
			AuthorizationURL:       "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
			TokenURL:               "https://login.microsoftonline.com/common/oauth2/v2.0/token",
			DeviceAuthorizationURL: "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode",
			Scopes:                 []string{"https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access"},
			StateDir:               "/var/lib/mk",
		}},
		{"microsoft pop3 tenant", strings.Replace(strings.Replace(ms, "protocol: imap", "protocol: pop3", 1), "provider: microsoft\n", "provider: microsoft\n      tenant: contoso.onmicrosoft.com\n", 1), OAuth2{
			Provider: "microsoft", ClientID: "abc", ClientSecretEnv: "GS", Tenant: "contoso.onmicrosoft.com",
			AuthorizationURL:       "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize",
			TokenURL:               "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
			DeviceAuthorizationURL: "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/devicecode",
			Scopes:                 []string{"https://outlook.office.com/POP.AccessAsUser.All", "offline_access"},
			StateDir:               "/var/lib/mk",
		}},
		{"custom", withOAuth("      client_secret_file: client.secret\n      revocation_url: http://127.0.0.1:8080/revoke\n      scopes: [mail]\n"), OAuth2{
			Provider: "custom", ClientID: "abc", ClientSecretFile: "/etc/mailkeep/client.secret",
			TokenURL: "https://id.example.com/token", DeviceAuthorizationURL: "https://id.example.com/device",
			RevocationURL: "http://127.0.0.1:8080/revoke", Scopes: []string{"mail"}, StateDir: "/var/lib/mk",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.in), "/etc/mailkeep/t.yaml")
			if err != nil {
				t.Fatal(err)
			}
			a := cfg.Accounts[0]
			if !reflect.DeepEqual(a.OAuth2, tt.want) {
				t.Errorf("oauth2\n got %+v\nwant %+v", a.OAuth2, tt.want)
			}
			if a.Auth != AuthXOAuth2 || !a.UsesOAuth2() {
				t.Errorf("auth %q, UsesOAuth2 %v; want xoauth2, true", a.Auth, a.UsesOAuth2())
			}
		})
	}
}

func TestParseOAuth2KeepsAuth(t *testing.T) {
	cfg, err := Parse([]byte(withOAuth("    auth: oauthbearer\n")), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if a := cfg.Accounts[0]; a.Auth != AuthOAuthBearer {
		t.Errorf("auth = %q, want oauthbearer", a.Auth)
	}
}

// Without an oauth2 account, state_dir is neither needed nor defaulted.
func TestParseStateDirOnlyForOAuth2(t *testing.T) {
	t.Setenv("STATE_DIRECTORY", "/var/lib/mailkeep")
	cfg, err := Parse([]byte(base), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StateDir != "" {
		t.Errorf("state_dir = %q without oauth2 accounts", cfg.StateDir)
	}
	cfg, err = Parse([]byte(strings.Replace(oauthBase, "state_dir: /var/lib/mk\n", "", 1)), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StateDir != "/var/lib/mailkeep" || cfg.Accounts[0].OAuth2.StateDir != cfg.StateDir {
		t.Errorf("state_dir = %q, account's %q", cfg.StateDir, cfg.Accounts[0].OAuth2.StateDir)
	}
}

func TestDefaultStateDir(t *testing.T) {
	tests := []struct {
		name                      string
		root                      bool
		stateDirectory, xdg, home string
		want                      string
	}{
		{"systemd", false, "/var/lib/mailkeep", "/x", "/home/u", "/var/lib/mailkeep"},
		{"systemd, several", true, "/var/lib/mailkeep:/var/lib/other", "", "/root", "/var/lib/mailkeep"},
		{"root", true, "", "/x", "/root", "/var/lib/mailkeep/state"},
		{"xdg", false, "", "/home/u/.state", "/home/u", "/home/u/.state/mailkeep"},
		{"relative xdg is ignored", false, "", "state", "/home/u", "/home/u/.local/state/mailkeep"},
		{"home", false, "", "", "/home/u", "/home/u/.local/state/mailkeep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("STATE_DIRECTORY", tt.stateDirectory)
			t.Setenv("XDG_STATE_HOME", tt.xdg)
			t.Setenv("HOME", tt.home)
			old := geteuid
			defer func() { geteuid = old }()
			geteuid = func() int { return map[bool]int{true: 0, false: 1000}[tt.root] }
			got, err := DefaultStateDir()
			if err != nil || got != tt.want {
				t.Errorf("DefaultStateDir() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestDefaultStateDirWithoutHome(t *testing.T) {
	t.Setenv("STATE_DIRECTORY", "")
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", "")
	old := geteuid
	defer func() { geteuid = old }()
	geteuid = func() int { return 1000 }
	in := strings.Replace(oauthBase, "state_dir: /var/lib/mk\n", "", 1)
	_, err := Parse([]byte(in), "t.yaml")
	want := "t.yaml: state_dir: missing, and no default: no home directory ($HOME) to keep it in"
	if err == nil || err.Error() != want {
		t.Errorf("Parse error\n got %v\nwant %s", err, want)
	}
}

func TestClientSecret(t *testing.T) {
	t.Setenv("MK_TEST_CS", testSecret)
	t.Setenv("MK_TEST_EMPTY", "")
	file := writeFile(t, testSecret+"\n")
	for _, tt := range []struct {
		name    string
		o       OAuth2
		want    string
		wantErr string
	}{
		{"file", OAuth2{ClientSecretFile: file}, testSecret, ""},
		{"env", OAuth2{ClientSecretEnv: "MK_TEST_CS"}, testSecret, ""},
		{"none", OAuth2{}, "", ""},
		{"missing file", OAuth2{ClientSecretFile: file + ".gone"}, "", "oauth2.client_secret_file: open " + file + ".gone: no such file or directory"},
		{"empty env", OAuth2{ClientSecretEnv: "MK_TEST_EMPTY"}, "", "oauth2.client_secret_env: environment variable MK_TEST_EMPTY is empty"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.o.ClientSecret()
			if got != tt.want || (err == nil) != (tt.wantErr == "") || err != nil && err.Error() != tt.wantErr {
				t.Errorf("ClientSecret() = %q, %v; want %q, %q", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// An account with oauth2 has no secret of its own: its token comes from
// the token store.
func TestSecretOfOAuth2Account(t *testing.T) {
	cfg, err := Parse([]byte(oauthBase), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = cfg.Accounts[0].Secret(context.Background())
	want := `account "work": oauth2: the access token comes from mailkeep's token store, not from the configuration`
	if err == nil || err.Error() != want {
		t.Errorf("Secret() error = %v, want %s", err, want)
	}
}

// The presets agree with golang.org/x/oauth2's own table of endpoints.
func TestPresetsMatchOAuth2Endpoints(t *testing.T) {
	var g, m OAuth2
	presetGoogle(&g, nil)
	presetMicrosoft(&m, ProtocolIMAP, nil)
	ms := endpoints.AzureAD("common")
	for _, c := range []struct{ name, got, want string }{
		{"google auth", g.AuthorizationURL, endpoints.Google.AuthURL},
		{"google token", g.TokenURL, endpoints.Google.TokenURL},
		{"google device", g.DeviceAuthorizationURL, endpoints.Google.DeviceAuthURL},
		{"microsoft auth", m.AuthorizationURL, ms.AuthURL},
		{"microsoft token", m.TokenURL, ms.TokenURL},
		{"microsoft device", m.DeviceAuthorizationURL, ms.DeviceAuthURL},
	} {
		if c.got != c.want {
			t.Errorf("%s: %q, golang.org/x/oauth2/endpoints says %q", c.name, c.got, c.want)
		}
	}
}
