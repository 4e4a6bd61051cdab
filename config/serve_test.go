package config

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestServeSection(t *testing.T) {
	cfg, err := Parse([]byte(base+"serve:\n  password_env: SERVE_PW\n"), "/etc/mailkeep/t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := Serve{Listen: DefaultServeListen, PasswordEnv: "SERVE_PW", Line: 8}
	if cfg.Serve == nil || *cfg.Serve != want {
		t.Errorf("serve = %+v, want %+v", cfg.Serve, want)
	}
	cfg, err = Parse([]byte(base+"serve:\n  listen: \"[::1]:993\"\n  tls_cert: c.pem\n  tls_key: /k.pem\n  password_file: pw\n"),
		"/etc/mailkeep/t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want = Serve{Listen: "[::1]:993", TLSCert: "/etc/mailkeep/c.pem", TLSKey: "/k.pem", PasswordFile: "/etc/mailkeep/pw", Line: 8}
	if *cfg.Serve != want {
		t.Errorf("serve = %+v, want %+v", cfg.Serve, want)
	}
	cfg, err = Parse([]byte(base), "t.yaml")
	if err != nil || cfg.Serve != nil {
		t.Errorf("without a serve section: %+v, %v", cfg.Serve, err)
	}
}

func TestServeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "serve:\n", []string{`t.yaml:8: serve: empty; set at least its password (password_file, password_env, password_command or password)`}},
		{"no password", "serve:\n  listen: 127.0.0.1:1143\n",
			[]string{`t.yaml:8: serve: no password: set one of password, password_file, password_env, password_command`}},
		{"two passwords", "serve:\n  password: x\n  password_env: Y\n",
			[]string{`t.yaml:10: serve.password_env: conflicts with serve.password; set only one password source`}},
		{"unknown key", "serve:\n  password: x\n  listn: a\n",
			[]string{`t.yaml:10: unknown key "serve.listn" (did you mean "listen"?)`}},
		{"no port", "serve:\n  password: x\n  listen: localhost\n",
			[]string{`t.yaml:10: serve.listen: "localhost" is not host:port with a port number (e.g. "127.0.0.1:1143")`}},
		{"bad port", "serve:\n  password: x\n  listen: \":99999\"\n",
			[]string{`t.yaml:10: serve.listen: ":99999" is not host:port with a port number (e.g. "127.0.0.1:1143")`}},
		{"cert without key", "serve:\n  password: x\n  tls_cert: c.pem\n",
			[]string{`t.yaml:10: serve.tls_cert: needs tls_key, the certificate's private key`}},
		{"key without cert", "serve:\n  password: x\n  tls_key: k.pem\n",
			[]string{`t.yaml:10: serve.tls_key: needs tls_cert, the certificate`}},
		{"not a mapping", "serve: [a]\n", []string{`t.yaml:8: serve: want a mapping of keys, got a list`}},
		{"password not shown", "serve:\n  password: [hunter2-secret-value]\n",
			[]string{`t.yaml:9: serve.password: want a string, got a list`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(base+tt.in), "t.yaml")
			if err == nil {
				t.Fatal("no error")
			}
			got := strings.Split(err.Error(), "\n")
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("errors\n%s\nwant\n%s", err, strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestServeSecret(t *testing.T) {
	t.Setenv("MK_SERVE_PW", testSecret)
	ctx := context.Background()
	for _, s := range []Serve{{Password: testSecret}, {PasswordFile: writeFile(t, testSecret+"\n")},
		{PasswordEnv: "MK_SERVE_PW"}, {PasswordCommand: "echo " + testSecret}} {
		if got, err := s.Secret(ctx); err != nil || got != testSecret {
			t.Errorf("%+v: Secret() = %q, %v", s, got, err)
		}
	}
	_, err := (&Serve{PasswordEnv: "MK_SERVE_UNSET"}).Secret(ctx)
	if want := "serve: password_env: environment variable MK_SERVE_UNSET is not set"; err == nil || err.Error() != want {
		t.Errorf("unset variable: %v, want %q", err, want)
	}
	_, err = (&Serve{PasswordCommand: "echo " + testSecret + "; exit 2"}).Secret(ctx)
	if err == nil || strings.Contains(err.Error(), testSecret) {
		t.Errorf("failing command: %v", err)
	}
}

func TestServeWarnings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mailkeep.yaml")
	if err := os.WriteFile(path, []byte(base+"serve:\n  password: pw\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	w := cfg.Warnings()
	want := path + ":8: serve.password is written in a file that other users can read (mode 0644)"
	if len(w) != 1 || w[0].Account != "" || !strings.HasPrefix(w[0].Text, want) {
		t.Errorf("warnings %+v, want one for no account, %q", w, want)
	}
	if w := cfg.Warnings("work"); len(w) != 1 {
		t.Errorf("warnings when an account is named: %+v", w)
	}
}
