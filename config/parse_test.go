package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// base is a valid configuration. Lines added by withAccount start at line
// 8, inside the account "work".
const base = `archive: /srv/mail
accounts:
  - name: work
    protocol: imap
    host: mail.example.com
    username: me
    password_env: PW
`

func withAccount(extra string) string { return base + extra }

// edit replaces the first old in base with new.
func edit(old, new string) string { return strings.Replace(base, old, new, 1) }

func pop3(extra string) string { return edit("protocol: imap", "protocol: pop3") + extra }

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // each a whole line of the error
	}{
		{"unknown key in account", withAccount("    prot: imap\n"),
			[]string{`t.yaml:8: unknown key "prot" in account "work" (did you mean "protocol"?)`}},
		{"unknown key at top", "archve: x\n" + base,
			[]string{`t.yaml:1: unknown key "archve" (did you mean "archive"?)`}},
		{"unknown nested key", withAccount("    folders:\n      includ: [a]\n"),
			[]string{`t.yaml:9: unknown key "folders.includ" in account "work" (did you mean "include"?)`}},
		{"unknown agent key", base + "agent:\n  jiter: 5s\n",
			[]string{`t.yaml:9: unknown key "agent.jiter" (did you mean "jitter"?)`}},
		{"unknown key without suggestion", withAccount("    colour: red\n"),
			[]string{`t.yaml:8: unknown key "colour" in account "work"`}},
		{"key that is not a name", withAccount("    ? [a]\n    : b\n"),
			[]string{`t.yaml:8: a key must be a plain name in account "work"`}},
		{"unknown key in merged mapping", withAccount("  - <<: {name: b, hots: x}\n"),
			[]string{`t.yaml:8: unknown key "hots" in account "b" (did you mean "host"?)`}},
		{"duplicate key", withAccount("    host: other\n"),
			[]string{`t.yaml:8: account "work": host: given twice (first at line 5)`}},
		{"port not a number", withAccount("    port: abc\n"),
			[]string{`t.yaml:8: account "work": port: want a whole number, got "abc"`}},
		{"include not a list", withAccount("    folders: {include: 5}\n"),
			[]string{`t.yaml:8: account "work": folders.include: want a list of strings, got "5"`}},
		{"folders not a mapping", withAccount("    folders: [a]\n"),
			[]string{`t.yaml:8: account "work": folders: want a mapping of keys, got a list`}},
		{"accounts not a list", "archive: x\naccounts: 5\n",
			[]string{`t.yaml:2: accounts: want a list of accounts, got "5"`}},
		{"account not a mapping", withAccount("  - 5\n"),
			[]string{`t.yaml:8: account #2: want a mapping of keys, got "5"`}},
		{"empty account", withAccount("  -\n"),
			[]string{`t.yaml:8: account #2: empty account`}},
		{"bad duration", base + "agent:\n  jitter: 5\n",
			[]string{`t.yaml:9: agent.jitter: want a duration such as "90s", "2m" or "7d", got "5"`}},
		{"duration not a scalar", base + "agent:\n  stop_timeout: [1s]\n",
			[]string{`t.yaml:9: agent.stop_timeout: want a duration such as "90s", "2m" or "7d", got a list`}},
		{"explicit tag that does not fit", withAccount("    port: !!int x\n"),
			[]string{"t.yaml:3: account \"work\": cannot decode !!str `x` as a !!int"}},
		{"empty file", "",
			[]string{`t.yaml: archive: missing (the directory that holds the backup)`, `t.yaml: no accounts: list at least one under "accounts"`}},
		{"only comments", "# nothing\n",
			[]string{`t.yaml: no accounts: list at least one under "accounts"`}},
		{"no accounts", "archive: x\naccounts: []\n",
			[]string{`t.yaml:2: no accounts: list at least one under "accounts"`}},
		{"two documents", base + "---\narchive: y\n",
			[]string{`t.yaml:8: more than one YAML document (a line "---" starts another); put everything in one`}},
		{"second document does not parse", base + "---\narchive: [x\n",
			[]string{`t.yaml:8: did not find expected ',' or ']'`}}, // yaml.v3 gives the line before
		{"syntax error", "archive: [x\n",
			[]string{`t.yaml:1: did not find expected ',' or ']'`}},
		{"top level not a mapping", "- a\n",
			[]string{`t.yaml:1: the file must be a mapping of keys (archive, accounts, agent)`}},
		{"archive missing", strings.TrimPrefix(base, "archive: /srv/mail\n"),
			[]string{`t.yaml: archive: missing (the directory that holds the backup)`}},
		{"name missing", edit("  - name: work\n    protocol", "  - protocol"),
			[]string{`t.yaml:3: account #1: name: missing`}},
		{"name upper case", edit("name: work", "name: Work"),
			[]string{`t.yaml:3: account "Work": name: "Work" may only hold a-z, 0-9, ".", "_" and "-"`}},
		{"name with slash", edit("name: work", "name: a/b"),
			[]string{`t.yaml:3: account "a/b": name: "a/b" may only hold a-z, 0-9, ".", "_" and "-"`}},
		{"name dot", edit("name: work", `name: "."`),
			[]string{`t.yaml:3: account ".": name: "." is not allowed`}},
		{"name dot dot", edit("name: work", `name: ".."`),
			[]string{`t.yaml:3: account "..": name: ".." is not allowed`}},
		{"name used twice", base + strings.TrimPrefix(base, "archive: /srv/mail\naccounts:\n"),
			[]string{`t.yaml:8: account "work": name: "work" is already used by the account at line 3`}},
		{"protocol missing", edit("    protocol: imap\n", ""),
			[]string{`t.yaml:3: account "work": protocol: missing (one of imap, pop3)`}},
		{"protocol unknown", edit("protocol: imap", "protocol: IMAP"),
			[]string{`t.yaml:4: account "work": protocol: "IMAP" is not one of imap, pop3`}},
		{"host missing", edit("    host: mail.example.com\n", ""),
			[]string{`t.yaml:3: account "work": host: missing (the mail server's name or address)`}},
		{"host with port", edit("host: mail.example.com", "host: mail.example.com:993"),
			[]string{`t.yaml:5: account "work": host: "mail.example.com:993" holds a port; write it as port: 993`}},
		{"port too big", withAccount("    port: 70000\n"),
			[]string{`t.yaml:8: account "work": port: 70000 is out of range 1..65535`}},
		{"port negative", withAccount("    port: -1\n"),
			[]string{`t.yaml:8: account "work": port: -1 is out of range 1..65535`}},
		{"tls unknown", withAccount("    tls: ssl\n"),
			[]string{`t.yaml:8: account "work": tls: "ssl" is not one of implicit, starttls, none`}},
		{"ca_file without tls", withAccount("    tls: none\n    ca_file: ca.pem\n"),
			[]string{`t.yaml:9: account "work": ca_file: not used with tls none`}},
		{"tls_server_name without tls", withAccount("    tls: none\n    tls_server_name: x\n"),
			[]string{`t.yaml:9: account "work": tls_server_name: not used with tls none`}},
		{"username missing", edit("    username: me\n", ""),
			[]string{`t.yaml:3: account "work": username: missing`}},
		{"no password", edit("    password_env: PW\n", ""),
			[]string{`t.yaml:3: account "work": no password: set one of password, password_file, password_env, password_command`}},
		{"two passwords", withAccount("    password_command: pass mail\n"),
			[]string{`t.yaml:8: account "work": password_command: conflicts with password_env; set only one password source`}},
		{"auth unknown", withAccount("    auth: cram-md5\n"),
			[]string{`t.yaml:8: account "work": auth: "cram-md5" is not one of plain, login, xoauth2, oauthbearer`}},
		{"oauth without token_command", edit("    password_env: PW\n", "    auth: xoauth2\n"),
			[]string{`t.yaml:7: account "work": auth xoauth2 needs token_command or oauth2`}},
		{"oauth with password", withAccount("    auth: oauthbearer\n    token_command: tok\n"),
			[]string{`t.yaml:7: account "work": password_env: not used with auth oauthbearer, which takes token_command or oauth2`}},
		{"token_command without oauth", withAccount("    token_command: tok\n"),
			[]string{`t.yaml:8: account "work": token_command: only used with auth xoauth2 or oauthbearer`}},
		{"folders with pop3", pop3("    folders: {include: [INBOX]}\n"),
			[]string{`t.yaml:8: account "work": folders: only for protocol imap (a POP3 server has one mailbox)`}},
		{"pop3 with imap", withAccount("    pop3: {mode: keep}\n"),
			[]string{`t.yaml:8: account "work": pop3: only for protocol pop3`}},
		{"imap connections too many", withAccount("    connections: 17\n"),
			[]string{`t.yaml:8: account "work": connections: 17 is out of range 1..16`}},
		{"imap connections negative", withAccount("    connections: -1\n"),
			[]string{`t.yaml:8: account "work": connections: -1 is out of range 1..16`}},
		{"pop3 connections", pop3("    connections: 2\n"),
			[]string{`t.yaml:8: account "work": connections: 2, but POP3 allows one connection per mailbox`}},
		{"lone backslash", withAccount("    folders:\n      exclude: ['a\\']\n"),
			[]string{`t.yaml:9: account "work": folders.exclude: pattern "a\\" ends with a lone "\"`}},
		{"empty pattern", withAccount("    folders:\n      include: ['']\n"),
			[]string{`t.yaml:9: account "work": folders.include: empty pattern`}},
		{"nested duplicate key", withAccount("    folders:\n      include: [a]\n      include: [b]\n"),
			[]string{`t.yaml:10: account "work": include: given twice (first at line 9)`}},
		{"compression unknown", withAccount("    compression: max\n"),
			[]string{`t.yaml:8: account "work": compression: "max" is not one of fastest, default, better`}},
		{"index not a bool", withAccount("    index: maybe\n"),
			[]string{`t.yaml:8: account "work": index: want true or false, got "maybe"`}},
		{"pop3 mode unknown", pop3("    pop3:\n      mode: move\n"),
			[]string{`t.yaml:9: account "work": pop3.mode: "move" is not one of keep, delete`}},
		{"pop3 days negative", pop3("    pop3:\n      delete_after_days: -1\n"),
			[]string{`t.yaml:9: account "work": pop3.delete_after_days: -1 is below the minimum of 0`}},
		{"pop3 delete with days", pop3("    pop3:\n      mode: delete\n      delete_after_days: 3\n"),
			[]string{`t.yaml:10: account "work": pop3.delete_after_days: only with mode keep (mode delete removes each message once it is archived)`}},
		{"pop3 no_uidl unknown", pop3("    pop3:\n      no_uidl: md5\n"),
			[]string{`t.yaml:9: account "work": pop3.no_uidl: "md5" is not one of hash`}},
		{"retention unknown key", withAccount("    retention:\n      gone_afer: 30d\n"),
			[]string{`t.yaml:9: unknown key "retention.gone_afer" in account "work" (did you mean "gone_after"?)`}},
		{"retention not a duration", withAccount("    retention:\n      gone_after: 365\n"),
			[]string{`t.yaml:9: account "work": retention.gone_after: want a duration such as "90s", "2m" or "7d", got "365"`}},
		{"retention too short", withAccount("    retention:\n      gone_after: 12h\n"),
			[]string{`t.yaml:9: account "work": retention.gone_after: 12h0m0s is below the minimum of 1d (leave the key out to keep those messages)`}},
		{"retention zero", withAccount("    retention:\n      folders_gone_after: 0s\n"),
			[]string{`t.yaml:9: account "work": retention.folders_gone_after: 0s is below the minimum of 1d (leave the key out to keep those messages)`}},
		{"retention runs zero", withAccount("    retention: {runs: 0}\n"),
			[]string{`t.yaml:8: account "work": retention.runs: 0 is below the minimum of 1`}},
		{"retention folders with pop3", pop3("    retention:\n      folders_gone_after: 90d\n"),
			[]string{`t.yaml:9: account "work": retention.folders_gone_after: only for protocol imap (a POP3 mailbox is one folder)`}},
		{"retention pop3_deleted_after with imap", withAccount("    retention:\n      pop3_deleted_after: 90d\n"),
			[]string{`t.yaml:9: account "work": retention.pop3_deleted_after: only for protocol pop3 (messages that POP3 mode delete removed from the server)`}},
		{"timezone unknown", base + "agent:\n  timezone: Mars/Olympus\n",
			[]string{`t.yaml:9: agent.timezone: unknown time zone "Mars/Olympus" (want an IANA name such as "Europe/Berlin")`}},
		{"max_concurrent negative", base + "agent:\n  max_concurrent: -2\n",
			[]string{`t.yaml:9: agent.max_concurrent: -2 is below the minimum of 1`}},
		{"jitter negative", base + "agent:\n  jitter: -1m\n",
			[]string{`t.yaml:9: agent.jitter: -1m0s is negative`}},
		{"health_max_age negative", base + "agent:\n  health_max_age: -1h\n",
			[]string{`t.yaml:9: agent.health_max_age: -1h0m0s is negative`}},
		{"stop_timeout negative", base + "agent:\n  stop_timeout: -1s\n",
			[]string{`t.yaml:9: agent.stop_timeout: -1s is negative`}},
		{"metrics without port", base + "agent:\n  metrics: localhost\n",
			[]string{`t.yaml:9: agent.metrics: "localhost" is not host:port with a port number (e.g. "127.0.0.1:9464" or ":9464")`}},
		{"metrics named port", base + "agent:\n  metrics: localhost:http\n",
			[]string{`t.yaml:9: agent.metrics: "localhost:http" is not host:port with a port number (e.g. "127.0.0.1:9464" or ":9464")`}},
		{"metrics port zero", base + "agent:\n  metrics: :0\n",
			[]string{`t.yaml:9: agent.metrics: ":0" is not host:port with a port number (e.g. "127.0.0.1:9464" or ":9464")`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.in), "t.yaml")
			if err == nil {
				t.Fatalf("Parse succeeded, want errors %q; got %+v", tt.want, cfg)
			}
			if cfg != nil {
				t.Errorf("Parse returned a config with an error")
			}
			lines := strings.Split(err.Error(), "\n")
			for _, w := range tt.want {
				if !containsLine(lines, w) {
					t.Errorf("error lacks line\n  %s\ngot\n  %s", w, strings.Join(lines, "\n  "))
				}
			}
		})
	}
}

func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

// A type error gets one message, not a second one from the checks that
// follow.
func TestParseOneMessagePerMistake(t *testing.T) {
	tests := []struct{ name, in string }{
		{"bad name type", edit("name: work", "name: [work]")},
		{"bad port type", withAccount("    port: abc\n")},
		{"bad accounts", "archive: x\naccounts: 5\n"},
		{"account not a mapping", withAccount("  - 5\n")},
		{"fatal decode", withAccount("    port: !!int x\n")},
		{"duplicate key", withAccount("    host: x\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in), "t.yaml")
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			if n := strings.Count(err.Error(), "\n") + 1; n != 1 {
				t.Errorf("got %d messages, want 1:\n%v", n, err)
			}
		})
	}
}

func TestParseReportsEveryMistake(t *testing.T) {
	in := `archive: /srv/mail
accounts:
  - name: Work
    protocol: imap
    host: mail.example.com
    port: 0x
    username: me
  - name: home
    protocol: pop3
    prot: pop3
agent:
  jitter: soon
`
	_, err := Parse([]byte(in), "t.yaml")
	if err == nil {
		t.Fatal("Parse succeeded")
	}
	want := `t.yaml:3: account "Work": name: "Work" may only hold a-z, 0-9, ".", "_" and "-"
t.yaml:3: account "Work": no password: set one of password, password_file, password_env, password_command
t.yaml:6: account "Work": port: want a whole number, got "0x"
t.yaml:8: account "home": host: missing (the mail server's name or address)
t.yaml:8: account "home": username: missing
t.yaml:8: account "home": no password: set one of password, password_file, password_env, password_command
t.yaml:10: unknown key "prot" in account "home" (did you mean "protocol"?)
t.yaml:12: agent.jitter: want a duration such as "90s", "2m" or "7d", got "soon"`
	if err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

func TestParseKeepsPasswordOutOfErrors(t *testing.T) {
	const secret = "hunter2-correct-horse"
	tests := []struct{ name, in string }{
		{"explicit tag", edit("password_env: PW", "password: !!int "+secret)},
		{"alias into a number", edit("password_env: PW", "password: &pw "+secret+"\n    port: *pw")},
		{"alias into a duration", edit("password_env: PW", "password: &pw "+secret) + "agent:\n  jitter: *pw\n"},
		{"alias into a list", edit("password_env: PW", "password: &pw "+secret+"\n    folders: {include: *pw}")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in), "t.yaml")
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			if strings.Contains(err.Error(), secret[:7]) {
				t.Errorf("error holds the password: %v", err)
			}
		})
	}
}

func TestParseDefaults(t *testing.T) {
	cfg, err := Parse([]byte(base), "/etc/mailkeep/t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Accounts[0]
	want := Account{
		Name: "work", Protocol: "imap", Host: "mail.example.com", Port: 993, TLS: "implicit",
		Username: "me", PasswordEnv: "PW", Folders: Folders{Include: []string{"*"}},
		Connections: 4, Compression: "fastest", Line: 3,
	}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("account\n got %+v\nwant %+v", a, want)
	}
	wantAgent := Agent{MaxConcurrent: 4, StopTimeout: Duration(30 * time.Second)}
	if cfg.Agent != wantAgent {
		t.Errorf("agent = %+v, want %+v", cfg.Agent, wantAgent)
	}
}

func TestParseDefaultPort(t *testing.T) {
	tests := []struct {
		protocol, tls string
		port          int
	}{
		{"imap", "", 993}, {"imap", "implicit", 993}, {"imap", "starttls", 143}, {"imap", "none", 143},
		{"pop3", "", 995}, {"pop3", "implicit", 995}, {"pop3", "starttls", 110}, {"pop3", "none", 110},
	}
	for _, tt := range tests {
		in := edit("protocol: imap", "protocol: "+tt.protocol+"\n    tls: '"+tt.tls+"'")
		cfg, err := Parse([]byte(in), "t.yaml")
		if err != nil {
			t.Fatalf("%s/%s: %v", tt.protocol, tt.tls, err)
		}
		if got := cfg.Accounts[0].Port; got != tt.port {
			t.Errorf("%s/%q: port %d, want %d", tt.protocol, tt.tls, got, tt.port)
		}
	}
}

func TestParsePOP3Defaults(t *testing.T) {
	cfg, err := Parse([]byte(pop3("")), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Accounts[0]
	if a.Connections != 1 || a.POP3.Mode != "keep" || a.Folders.Include != nil {
		t.Errorf("connections %d, mode %q, include %q; want 1, keep, none", a.Connections, a.POP3.Mode, a.Folders.Include)
	}
}

func TestParseKeepsExplicitValues(t *testing.T) {
	in := withAccount("    port: 1143\n    tls: starttls\n    connections: 2\n    compression: better\n    folders: {include: [INBOX]}\n") +
		"agent:\n  max_concurrent: 1\n  stop_timeout: 5s\n"
	cfg, err := Parse([]byte(in), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Accounts[0]
	if a.Port != 1143 || a.TLS != "starttls" || a.Connections != 2 || a.Compression != "better" || a.Folders.Include[0] != "INBOX" {
		t.Errorf("account = %+v", a)
	}
	if cfg.Agent.MaxConcurrent != 1 || cfg.Agent.StopTimeout != Duration(5*time.Second) {
		t.Errorf("agent = %+v", cfg.Agent)
	}
}

func TestParseIndex(t *testing.T) {
	for in, want := range map[string]bool{"": true, "    index: true\n": true, "    index: false\n": false} {
		cfg, err := Parse([]byte(withAccount(in)), "t.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Accounts[0].IndexOn(); got != want {
			t.Errorf("%q: IndexOn() = %v, want %v", in, got, want)
		}
	}
}

func TestParseRelativePaths(t *testing.T) {
	in := edit("archive: /srv/mail", "archive: data") + "    ca_file: ca.pem\n"
	in = strings.Replace(in, "password_env: PW", "password_file: ../secret", 1)
	cfg, err := Parse([]byte(in), "/etc/mailkeep/mailkeep.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Accounts[0]
	if cfg.Archive != "/etc/mailkeep/data" || a.CAFile != "/etc/mailkeep/ca.pem" || a.PasswordFile != "/etc/secret" {
		t.Errorf("archive %q, ca_file %q, password_file %q", cfg.Archive, a.CAFile, a.PasswordFile)
	}
	cfg, err = Parse([]byte(in), "mailkeep.yaml")
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if want := filepath.Join(wd, "data"); cfg.Archive != want {
		t.Errorf("archive %q, want %q", cfg.Archive, want)
	}
}

func TestParseMergeKeys(t *testing.T) {
	in := withAccount("  - <<: &shared {protocol: pop3, host: pop.example.com, username: me, password_env: PW}\n    name: home\n  - <<: *shared\n    name: other\n    host: pop2.example.com\n")
	cfg, err := Parse([]byte(in), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Accounts[2]; got.Host != "pop2.example.com" || got.Protocol != "pop3" || got.Line != 10 {
		t.Errorf("merged account = %+v", got)
	}
}

func TestParseFull(t *testing.T) {
	path := filepath.Join("testdata", "full.yaml")
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	if want := fullConfig(path, dir); !reflect.DeepEqual(cfg, want) {
		t.Errorf("got\n%+v\nwant\n%+v", cfg, want)
	}
}

func fullConfig(path, dir string) *Config {
	yes := true
	return &Config{
		Path:     path,
		Archive:  "/var/lib/mailkeep/archive",
		StateDir: "/var/lib/mailkeep/state",
		Accounts: []Account{{
			Name: "work", Protocol: "imap", Host: "imap.example.com", Port: 993, TLS: "implicit",
			CAFile: filepath.Join(dir, "certs/example-ca.pem"), TLSServerName: "mail.example.com",
			Username: "me@example.com", PasswordFile: filepath.Join(dir, "secrets/work.password"), Auth: "plain",
			Folders:     Folders{Include: []string{"*"}, Exclude: []string{"Trash", "Junk", "Drafts", "INBOX/tmp*"}},
			Connections: 4, Schedule: "0 */6 * * *", Compression: "fastest", Index: &yes, Line: 32,
			Retention: Retention{GoneAfter: Duration(365 * 24 * time.Hour), FoldersGoneAfter: Duration(90 * 24 * time.Hour), Runs: 30},
		}, {
			Name: "home", Protocol: "pop3", Host: "pop.example.net", Port: 110, TLS: "starttls",
			Username: "me", PasswordEnv: "MAILKEEP_HOME_PASSWORD", Connections: 1,
			Schedule: "30 2 * * *", Compression: "better",
			POP3: POP3{Mode: "keep", DeleteAfterDays: 30, NoUIDL: "hash"}, Line: 132,
			Retention: Retention{GoneAfter: Duration(365 * 24 * time.Hour), POP3DeletedAfter: Duration(730 * 24 * time.Hour)},
			Encryption: Encryption{Recipients: []string{"age13ftw9yx7qx92xetn8p0fcm0pmjwc387waxw4uavdfktagxt6vqdsmz8jk5"},
				RecipientsFile: filepath.Join(dir, "keys/home-recipients.txt")},
		}, {
			Name: "gmail", Protocol: "imap", Host: "imap.gmail.com", Port: 993, TLS: "implicit",
			Username: "me@gmail.com", Auth: "xoauth2", TokenCommand: "oauth2-token --account me@gmail.com",
			Folders:     Folders{Include: []string{"INBOX", "[Gmail]/Sent Mail"}},
			Connections: 4, Schedule: "0 * * * *", Compression: "fastest", Line: 191,
		}, {
			Name: "google", Protocol: "imap", Host: "imap.gmail.com", Port: 993, TLS: "implicit",
			Username: "me@gmail.com", Auth: "xoauth2",
			OAuth2: OAuth2{
				Provider: "google", ClientID: "1234567890-abc.apps.googleusercontent.com",
				ClientSecretFile:       filepath.Join(dir, "secrets/google-client.secret"),
				AuthorizationURL:       "https://accounts.google.com/o/oauth2/auth",
				TokenURL:               "https://oauth2.googleapis.com/token",
				DeviceAuthorizationURL: "https://oauth2.googleapis.com/device/code",
				RevocationURL:          "https://oauth2.googleapis.com/revoke",
				Scopes:                 []string{"https://mail.google.com/"},
				StateDir:               "/var/lib/mailkeep/state",
			},
			Folders: Folders{Include: []string{"*"}}, Connections: 4, Compression: "fastest", Line: 208,
			MaxConnections: 4, Bandwidth: 10 << 20, ThrottleBackoff: Duration(2 * time.Hour),
		}, {
			Name: "office", Protocol: "pop3", Host: "outlook.office365.com", Port: 995, TLS: "implicit",
			Username: "me@example.com", Auth: "xoauth2",
			OAuth2: OAuth2{
				Provider: "microsoft", ClientID: "00000000-0000-0000-0000-000000000000", Tenant: "organizations",
				AuthorizationURL:       "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize",
				TokenURL:               "https://login.microsoftonline.com/organizations/oauth2/v2.0/token",
				DeviceAuthorizationURL: "https://login.microsoftonline.com/organizations/oauth2/v2.0/devicecode",
				Scopes:                 []string{"https://outlook.office.com/POP.AccessAsUser.All", "offline_access"},
				StateDir:               "/var/lib/mailkeep/state",
			},
			Connections: 1, Compression: "fastest", POP3: POP3{Mode: "keep"}, Line: 256,
			Replicate: []Replica{{S3: S3Replica{Endpoint: "https://s3.example.com", Bucket: "mail-archive",
				Prefix: "office/", Region: "eu-central-1", AccessKeyFile: filepath.Join(dir, "secrets/s3.access"),
				SecretKeyFile: filepath.Join(dir, "secrets/s3.secret")}},
				{Dir: "/mnt/offsite/mailkeep", KeepPruned: true}},
		}},
		Agent: Agent{
			Timezone: "Europe/Berlin", MaxConcurrent: 4, Jitter: Duration(2 * time.Minute),
			Metrics: "127.0.0.1:9464", HealthMaxAge: Duration(36 * time.Hour), StopTimeout: Duration(30 * time.Second),
		},
		Serve: &Serve{Listen: "127.0.0.1:1143", TLSCert: filepath.Join(dir, "certs/serve.crt"),
			TLSKey: filepath.Join(dir, "certs/serve.key"), PasswordFile: filepath.Join(dir, "secrets/serve.password"),
			Line: 344},
	}
}

// Every key mailkeep accepts is shown in the annotated example, as a key
// or in a comment.
func TestFullDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range allKeys(reflect.TypeFor[Config]()) {
		re := regexp.MustCompile(`(?m)^[ #]*` + regexp.QuoteMeta(key) + `:`)
		if !re.Match(data) {
			t.Errorf("testdata/full.yaml does not show key %q", key)
		}
	}
}

// allKeys lists the yaml keys of struct t and of the structs within it.
func allKeys(t reflect.Type) []string {
	var keys []string
	for f := range t.Fields() {
		name := yamlName(f)
		if name == "-" {
			continue
		}
		keys = append(keys, name)
		ft := f.Type
		if ft.Kind() == reflect.Slice || ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			keys = append(keys, allKeys(ft)...)
		}
	}
	return keys
}

// fileLayout must accept exactly the keys of Config.
func TestFileLayoutMatchesConfig(t *testing.T) {
	got, want := keyNames(layoutType), keyNames(reflect.TypeFor[Config]())
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fileLayout keys %q, Config keys %q", got, want)
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mailkeep.yaml")
	if err := os.WriteFile(path, []byte(base), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil || cfg.Path != path {
		t.Fatalf("Load = %+v, %v", cfg, err)
	}
	_, err = Load(filepath.Join(t.TempDir(), "missing.yaml"))
	if !os.IsNotExist(errorsUnwrapAll(err)) || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("Load of a missing file: %v", err)
	}
}

func errorsUnwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return err
		}
		err = u.Unwrap()
	}
}

func TestConfigAccount(t *testing.T) {
	cfg := &Config{Path: "t.yaml", Accounts: []Account{{Name: "work"}, {Name: "home"}}}
	a, err := cfg.Account("home")
	if err != nil || a != &cfg.Accounts[1] {
		t.Fatalf("Account(home) = %p, %v", a, err)
	}
	_, err = cfg.Account("play")
	if err == nil || err.Error() != `no account "play" in t.yaml (accounts: home, work)` {
		t.Errorf("Account(play) error = %v", err)
	}
}

func TestAddress(t *testing.T) {
	tests := []struct {
		host string
		port int
		want string
	}{
		{"mail.example.com", 993, "mail.example.com:993"},
		{"::1", 143, "[::1]:143"},
	}
	for _, tt := range tests {
		a := Account{Host: tt.host, Port: tt.port}
		if got := a.Address(); got != tt.want {
			t.Errorf("Address() = %q, want %q", got, tt.want)
		}
	}
}

func TestDurationString(t *testing.T) {
	if got := Duration(90 * time.Second).String(); got != "1m30s" {
		t.Errorf("String() = %q", got)
	}
}
