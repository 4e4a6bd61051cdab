package config

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testSecret = "s3cret-Pa55"

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSecret(t *testing.T) {
	t.Setenv("MK_TEST_PW", testSecret)
	tests := []struct {
		name string
		a    Account
		want string
	}{
		{"password", Account{Password: testSecret}, testSecret},
		{"file", Account{PasswordFile: writeFile(t, testSecret+"\n")}, testSecret},
		{"file with CRLF", Account{PasswordFile: writeFile(t, testSecret+"\r\n")}, testSecret},
		{"file without newline", Account{PasswordFile: writeFile(t, testSecret)}, testSecret},
		{"file with two newlines", Account{PasswordFile: writeFile(t, testSecret+"\n\n")}, testSecret + "\n"},
		{"file with spaces", Account{PasswordFile: writeFile(t, " "+testSecret+" \n")}, " " + testSecret + " "},
		{"env", Account{PasswordEnv: "MK_TEST_PW"}, testSecret},
		{"command", Account{PasswordCommand: "echo " + testSecret}, testSecret},
		{"command without newline", Account{PasswordCommand: "printf %s " + testSecret}, testSecret},
		{"command with CRLF", Account{PasswordCommand: `printf '%s\r\n' ` + testSecret}, testSecret},
		{"command sees environment", Account{PasswordCommand: `echo "$MK_TEST_PW"`}, testSecret},
		{"token", Account{Auth: AuthXOAuth2, TokenCommand: "echo token-1", Password: "ignored"}, "token-1"},
		{"oauthbearer token", Account{Auth: AuthOAuthBearer, TokenCommand: "echo token-2"}, "token-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.a.Secret(context.Background())
			if err != nil || got != tt.want {
				t.Errorf("Secret() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestSecretErrors(t *testing.T) {
	t.Setenv("MK_TEST_EMPTY", "")
	missing := filepath.Join(t.TempDir(), "nothing-here")
	empty := writeFile(t, "\n")
	tests := []struct {
		name string
		a    Account
		want string // the whole message
	}{
		{"no source", Account{}, `account "w": no password source set`},
		{"missing file", Account{PasswordFile: missing},
			`account "w": password_file: open ` + missing + `: no such file or directory`},
		{"empty file", Account{PasswordFile: empty}, `account "w": password_file ` + empty + `: empty`},
		{"unset env", Account{PasswordEnv: "MK_TEST_UNSET_VARIABLE"},
			`account "w": password_env: environment variable MK_TEST_UNSET_VARIABLE is not set`},
		{"empty env", Account{PasswordEnv: "MK_TEST_EMPTY"},
			`account "w": password_env: environment variable MK_TEST_EMPTY is empty`},
		{"command fails", Account{PasswordCommand: "echo " + testSecret + "; echo 'no such entry' >&2; echo more >&2; exit 3"},
			`account "w": password_command: the command failed (exit status 3); its output is not shown, as it may hold the secret`},
		{"command fails silently", Account{PasswordCommand: "echo " + testSecret + "; exit 1"},
			`account "w": password_command: the command failed (exit status 1); its output is not shown, as it may hold the secret`},
		{"command prints a wrong password to stderr", Account{PasswordCommand: "echo Wr0ngPassw0rd-XYZ >&2; exit 1"},
			`account "w": password_command: the command failed (exit status 1); its output is not shown, as it may hold the secret`},
		{"command prints nothing", Account{PasswordCommand: "true"},
			`account "w": password_command: printed nothing`},
		{"command prints too much", Account{PasswordCommand: "head -c 70000 /dev/zero"},
			`account "w": password_command: printed more than 65536 bytes`},
		{"token command fails", Account{Auth: AuthXOAuth2, TokenCommand: "echo " + testSecret + "; exit 2"},
			`account "w": token_command: the command failed (exit status 2); its output is not shown, as it may hold the secret`},
		{"token command missing", Account{Auth: AuthXOAuth2, Password: testSecret},
			`account "w": token_command: not set`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.a.Name = "w"
			got, err := tt.a.Secret(context.Background())
			if err == nil {
				t.Fatalf("Secret() = %q, want an error", got)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("error holds the secret: %v", err)
			}
		})
	}
}

func TestSecretFileTooLarge(t *testing.T) {
	a := Account{PasswordFile: writeFile(t, strings.Repeat("x", maxSecret+1))}
	_, err := a.Secret(context.Background())
	if err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("Secret() error = %v, want a size error", err)
	}
}

func TestSecretCommandCancelled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	a := Account{Name: "w", PasswordCommand: "echo " + testSecret + "; sleep 10"}
	start := time.Now()
	_, err := a.Secret(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Secret() error = %v, want the context's error", err)
	}
	if d := time.Since(start); d > commandWaitDelay+5*time.Second {
		t.Errorf("Secret() took %v after the context ended", d)
	}
	if err != nil && strings.Contains(err.Error(), testSecret) {
		t.Errorf("error holds the secret: %v", err)
	}
}

func TestTrimNewline(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a\n", "a"}, {"a\r\n", "a"}, {"a\n\n", "a\n"}, {"a\r", "a\r"}, {"a", "a"}, {"\n", ""}, {"", ""},
	}
	for _, tt := range tests {
		if got := trimNewline(tt.in); got != tt.want {
			t.Errorf("trimNewline(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
