package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	full, err := os.ReadFile(filepath.Join("testdata", "full.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		withoutComments(string(full)), base, pop3("    pop3: {mode: delete}\n"), "",
		withAccount("  - <<: &a {name: b, protocol: pop3}\n    host: h\n  - <<: [*a, *a]\n"),
		"archive: &a [*a]\naccounts: *a\n",
		withAccount("    folders: {include: ['INBOX/*', 'a\\'], exclude: [*x]}\n"),
		base + "agent: {jitter: 1m, stop_timeout: -1s, metrics: ':9'}\n---\n",
		oauthBase, googleOAuth("      tenant: x\n"),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "f.yaml")
		_, err2 := Parse(data, "f.yaml")
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("Parse is not deterministic:\n%v\n%v", err, err2)
		}
		if err != nil {
			checkErrorLines(t, err.Error())
			return
		}
		checkValid(t, cfg)
	})
}

// withoutComments drops comment and blank lines: a short seed keeps the
// fuzzer's minimizing quick.
func withoutComments(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
			b.WriteString(line)
		}
	}
	return b.String()
}

func checkErrorLines(t *testing.T, msg string) {
	for line := range strings.Lines(msg) {
		if !strings.HasPrefix(line, "f.yaml:") && !strings.HasPrefix(line, "f.yaml: ") {
			t.Errorf("message line without the file: %q", line)
		}
	}
}

// checkValid checks what Parse promises of a config it accepts.
func checkValid(t *testing.T, cfg *Config) {
	if len(cfg.Accounts) == 0 || cfg.Archive == "" {
		t.Fatalf("accepted without accounts or archive: %+v", cfg)
	}
	if cfg.Agent.MaxConcurrent < 1 || cfg.Agent.StopTimeout <= 0 || cfg.Agent.Jitter < 0 {
		t.Errorf("agent defaults not applied: %+v", cfg.Agent)
	}
	for _, a := range cfg.Accounts {
		bad := a.Port < 1 || a.Port > 65535 || a.TLS == "" || a.Compression == "" || a.Line < 1 ||
			a.Connections < 1 || a.Connections > maxConnections || a.Name == "" || a.Host == ""
		if bad {
			t.Errorf("accepted account breaks a promise: %+v", a)
		}
		if a.Protocol == ProtocolIMAP && len(a.Folders.Include) == 0 {
			t.Errorf("imap account without include patterns: %+v", a)
		}
		a.MatchFolder("INBOX/x")
		if a.UsesOAuth2() && (a.OAuth2.TokenURL == "" || a.OAuth2.ClientID == "" || a.OAuth2.StateDir == "" ||
			within(a.OAuth2.StateDir, cfg.Archive) || !a.usesToken() || a.TokenCommand != "") {
			t.Errorf("accepted oauth2 account breaks a promise: %+v", a)
		}
	}
}
