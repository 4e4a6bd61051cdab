package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/mailkeep/mailkeep/internal/dovecottest"
	"github.com/mailkeep/mailkeep/internal/oauthtest"
)

// writeOAuthConfig writes a config with an IMAP and a POP3 account for
// alice at srv, both signing in at provider p.
func writeOAuthConfig(t *testing.T, srv *dovecottest.Server, p *oauthtest.Server) (string, string) {
	t.Helper()
	dir := t.TempDir()
	secret := filepath.Join(dir, "client.secret")
	if err := os.WriteFile(secret, []byte("cs-cli-client-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	oauth2 := fmt.Sprintf(`    oauth2:
      provider: custom
      client_id: %s
      client_secret_file: %s
      device_authorization_url: %s
      authorization_url: %s
      token_url: %s
      revocation_url: %s
      scopes: [mail]
`, p.ClientID(), secret, p.DeviceAuthURL(), p.AuthURL(), p.TokenURL(), p.RevocationURL())
	imapHost, imapPort, _ := strings.Cut(srv.IMAPAddr, ":")
	_, pop3Port, _ := strings.Cut(srv.POP3Addr, ":")
	cfg := fmt.Sprintf(`archive: %[1]s/archive
state_dir: %[1]s/state
accounts:
  - name: alice
    protocol: imap
    host: %[2]s
    port: %[3]s
    tls: none
    username: alice
    auth: xoauth2
%[5]s  - name: alicepop
    protocol: pop3
    host: %[2]s
    port: %[4]s
    tls: none
    username: alice
    auth: oauthbearer
%[5]s`, dir, imapHost, imapPort, pop3Port, oauth2)
	path := filepath.Join(dir, "mailkeep.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, dir
}

// From sign-in to "needs login": device sign-in, backups that refresh the
// access token when the server refuses it, a revoked grant (exit 6 with
// the command to run), status and logout; no token in any output.
func TestAuthCommands(t *testing.T) {
	t.Parallel()
	p := oauthtest.Start(t, oauthtest.Options{ClientSecret: "cs-cli-client-secret", AutoApprove: true, RotateRefresh: true})
	srv := dovecottest.Start(t, dovecottest.Options{Users: []string{"alice"}, OAuth2IntrospectionURL: p.IntrospectionURL()})
	appendOne(t, srv)
	cfg, dir := writeOAuthConfig(t, srv, p)
	var outputs []string
	run := func(want int, args ...string) result {
		t.Helper()
		r := mailkeep(t, nil, append([]string{"--config", cfg}, args...)...)
		outputs = append(outputs, r.stdout, r.stderr)
		if r.code != want {
			t.Fatalf("mailkeep %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
		}
		return r
	}

	r := run(0, "auth", "status")
	if !strings.Contains(r.stdout, "alice: not signed in: run `mailkeep auth login alice`") {
		t.Errorf("status before login:\n%s", r.stdout)
	}
	r = run(exitNeedsLogin, "backup", "--no-progress", "alice")
	if !strings.Contains(r.stdout+r.stderr, "run `mailkeep auth login alice`") {
		t.Errorf("backup before login does not say what to run:\n%s%s", r.stdout, r.stderr)
	}
	for _, name := range []string{"alice", "alicepop"} {
		r = run(0, "auth", "login", name)
		if !strings.Contains(r.stdout, "enter the code") || !strings.Contains(r.stdout, "Signed in.") {
			t.Errorf("login %s:\n%s", name, r.stdout)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, "state", "oauth2", "alice.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file: %v, %v", fi, err)
	}
	run(0, "backup", "--no-progress")
	p.ExpireAccessTokens()
	r = run(0, "backup", "--no-progress")
	if n := p.Count("refresh"); n != 2 {
		t.Errorf("%d refreshes after the access tokens expired, want one per account", n)
	}
	r = run(0, "auth", "status", "alice")
	if !strings.Contains(r.stdout, "alice    custom") || !strings.Contains(r.stdout, " mail") ||
		!strings.Contains(r.stdout, "Tokens are kept in "+dir+"/state/oauth2") {
		t.Errorf("status:\n%s", r.stdout)
	}
	p.RevokeRefreshTokens()
	for _, name := range []string{"alice", "alicepop"} {
		r = run(exitNeedsLogin, "backup", "--no-progress", name)
		if !strings.Contains(r.stderr, "invalid_grant") || !strings.Contains(r.stderr, "run `mailkeep auth login "+name+"`") {
			t.Errorf("backup of %s with a revoked grant:\n%s%s", name, r.stdout, r.stderr)
		}
	}
	r = run(0, "auth", "logout", "alice")
	if !strings.Contains(r.stdout, "tokens removed") || p.Count("revoke") != 1 {
		t.Errorf("logout:\n%s", r.stdout)
	}
	for _, out := range outputs {
		for _, sec := range append(p.Issued(), "cs-cli-client-secret") {
			if strings.Contains(out, sec) {
				t.Errorf("output holds a secret (%.6s…):\n%s", sec, out)
			}
		}
	}
}

func appendOne(t *testing.T, srv *dovecottest.Server) {
	t.Helper()
	c := srv.Dial(t, "alice")
	msg := "Subject: second\r\n\r\nbody\r\n"
	cmd := c.Append("INBOX", int64(len(msg)), &imap.AppendOptions{})
	cmd.Write([]byte(msg))
	cmd.Close()
	if _, err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}

// Google's device flow cannot grant the mail scope: the command says so
// and exits 2. An account without oauth2 has nothing to sign in.
func TestAuthLoginRefusals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "mailkeep.yaml")
	os.WriteFile(cfg, []byte(`archive: `+dir+`/archive
state_dir: `+dir+`/state
accounts:
  - name: gmail
    protocol: imap
    host: imap.gmail.com
    username: me@gmail.com
    oauth2: {provider: google, client_id: x.apps.googleusercontent.com, client_secret_env: MK_TEST_GOOGLE}
  - name: plain
    protocol: imap
    host: mail.example.com
    username: me
    password_env: PW
`), 0o600)
	r := mailkeep(t, []string{"MK_TEST_GOOGLE=s"}, "--config", cfg, "auth", "login", "gmail", "--device")
	if r.code != exitUsage || !strings.Contains(r.stderr, "Google's device flow does not allow the https://mail.google.com/ scope") {
		t.Errorf("google --device: exit %d\n%s", r.code, r.stderr)
	}
	r = mailkeep(t, nil, "--config", cfg, "auth", "login", "plain")
	if r.code != exitUsage || !strings.Contains(r.stderr, `account "plain" has no oauth2 block`) {
		t.Errorf("login of a password account: exit %d\n%s", r.code, r.stderr)
	}
	r = mailkeep(t, nil, "--config", cfg, "auth", "login", "gmail", "--device", "--browser")
	if r.code != exitUsage {
		t.Errorf("--device --browser: exit %d", r.code)
	}
}
