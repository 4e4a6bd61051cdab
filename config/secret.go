package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// maxSecret bounds what is read from a password file or command.
const maxSecret = 64 << 10

// commandWaitDelay is how long a cancelled command's output pipes may stay
// open (held by its children) before they are closed.
const commandWaitDelay = 2 * time.Second

// Secret returns the account's password, or for auth xoauth2 and
// oauthbearer an access token printed by token_command. Errors name the
// key, file, variable or exit status; they never hold the secret or the
// output of the command.
func (a *Account) Secret(ctx context.Context) (string, error) {
	v, err := a.secret(ctx)
	if err != nil {
		return "", fmt.Errorf("account %q: %w", a.Name, err)
	}
	return v, nil
}

func (a *Account) secret(ctx context.Context) (string, error) {
	switch {
	case a.UsesOAuth2():
		return "", errors.New("oauth2: the access token comes from mailkeep's token store, not from the configuration")
	case a.usesToken():
		return runSecret(ctx, "token_command", a.TokenCommand)
	case a.Password != "":
		return a.Password, nil
	case a.PasswordFile != "":
		return readSecretFile("password_file", a.PasswordFile)
	case a.PasswordEnv != "":
		return envSecret("password_env", a.PasswordEnv)
	case a.PasswordCommand != "":
		return runSecret(ctx, "password_command", a.PasswordCommand)
	}
	return "", errors.New("no password source set")
}

// ClientSecret returns the OAuth2 client secret from client_secret_file or
// client_secret_env, or "" when neither is set (a public client). Errors
// name the key and the file or variable, never the secret.
func (o *OAuth2) ClientSecret() (string, error) {
	switch {
	case o.ClientSecretFile != "":
		return readSecretFile("oauth2.client_secret_file", o.ClientSecretFile)
	case o.ClientSecretEnv != "":
		return envSecret("oauth2.client_secret_env", o.ClientSecretEnv)
	}
	return "", nil
}

// readSecretFile returns the file's contents less one trailing newline.
// Its errors come from os and name the key and the file, not its contents.
func readSecretFile(key, name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecret+1))
	switch {
	case err != nil:
		return "", fmt.Errorf("%s: %w", key, err)
	case len(b) > maxSecret:
		return "", fmt.Errorf("%s %s: longer than %d bytes", key, name, maxSecret)
	}
	v := trimNewline(string(b))
	if v == "" {
		return "", fmt.Errorf("%s %s: empty", key, name)
	}
	return v, nil
}

func envSecret(key, name string) (string, error) {
	v, ok := os.LookupEnv(name)
	switch {
	case !ok:
		return "", fmt.Errorf("%s: environment variable %s is not set", key, name)
	case v == "":
		return "", fmt.Errorf("%s: environment variable %s is empty", key, name)
	}
	return v, nil
}

// runSecret runs command with sh -c and returns its output less the
// trailing newline. A failure reports the exit status only: what the
// command printed, on either stream, may be the secret or part of it (a
// wrong password echoed in a message), so none of it reaches an error, a
// log, the catalog or status.
func runSecret(ctx context.Context, key, command string) (string, error) {
	if command == "" {
		return "", fmt.Errorf("%s: not set", key)
	}
	if _, err := exec.LookPath("sh"); err != nil {
		return "", fmt.Errorf("%s: this system has no shell (sh) to run it, as in mailkeep's container image: "+
			"use a file (password_file, also under $CREDENTIALS_DIRECTORY) or password_env", key)
	}
	var stdout limitedBuffer
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Stdout, cmd.Stderr = &stdout, io.Discard
	cmd.WaitDelay = commandWaitDelay
	err := cmd.Run()
	out := trimNewline(stdout.buf.String())
	switch {
	case ctx.Err() != nil:
		return "", fmt.Errorf("%s: %w", key, ctx.Err())
	case err != nil:
		return "", fmt.Errorf("%s: the command failed (%v); its output is not shown, as it may hold the secret", key, exitStatus(err))
	case stdout.full:
		return "", fmt.Errorf("%s: printed more than %d bytes", key, maxSecret)
	case out == "":
		return "", fmt.Errorf("%s: printed nothing", key)
	}
	return out, nil
}

// exitStatus describes how a command ended, without its output.
func exitStatus(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ProcessState.String()
	}
	return err.Error()
}

// trimNewline removes one trailing "\n" or "\r\n".
func trimNewline(s string) string {
	s, ok := strings.CutSuffix(s, "\n")
	if ok {
		s = strings.TrimSuffix(s, "\r")
	}
	return s
}

// limitedBuffer keeps the first maxSecret bytes written to it and notes
// whether there were more. It never fails a write, so the command is not
// killed by a broken pipe.
type limitedBuffer struct {
	buf  bytes.Buffer
	full bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	room := maxSecret - b.buf.Len()
	if len(p) > room {
		b.full = true
		b.buf.Write(p[:room])
		return len(p), nil
	}
	return b.buf.Write(p)
}
