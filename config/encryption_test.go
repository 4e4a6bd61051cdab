package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

const (
	testRecipient = "age13ftw9yx7qx92xetn8p0fcm0pmjwc387waxw4uavdfktagxt6vqdsmz8jk5"
	// testAgeSecret is a private key for these tests alone.
	testAgeSecret = "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
)

func TestParseEncryptionErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty block", withAccount("    encryption: {}\n"),
			`t.yaml:8: account "work": encryption: empty; give recipients or recipients_file (and identity_file where the archive is read)`},
		{"not a recipient", withAccount("    encryption:\n      recipients: [age1nope]\n"),
			`t.yaml:9: account "work": encryption.recipients[0]: malformed recipient "age1nope": separator '1' at invalid position: pos=3, len=8`},
		{"not age at all", withAccount("    encryption:\n      recipients: [\"" + testRecipient + "\", ssh-ed25519 AAAA]\n"),
			`t.yaml:9: account "work": encryption.recipients[1]: "ssh-ed25519 AAAA" is not an age recipient (age1…)`},
		{"a private key", withAccount("    encryption:\n      recipients: [" + testAgeSecret + "]\n"),
			`t.yaml:9: account "work": encryption.recipients[0]: a private key (AGE-SECRET-KEY-…) where a recipient (age1…) belongs: give its public key (age-keygen -y) and keep the private key off the backup host`},
		{"index with encryption", withAccount("    index: true\n    encryption:\n      recipients: [" + testRecipient + "]\n"),
			`t.yaml:8: account "work": index: an encrypted account has no search index: it would hold the words of every message in clear text; remove index: true`},
		{"unknown key", withAccount("    encryption:\n      recipient: [x]\n"),
			`t.yaml:8: account "work": encryption: empty; give recipients or recipients_file (and identity_file where the archive is read)` +
				"\n" + `t.yaml:9: unknown key "encryption.recipient" in account "work" (did you mean "recipients"?)`},
		{"path with an unset variable", withAccount("    encryption:\n      identity_file: $MAILKEEP_NO_SUCH_VAR/k\n"),
			`t.yaml:9: account "work": encryption.identity_file: $MAILKEEP_NO_SUCH_VAR not set (in "/k")`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in), "t.yaml")
			if err == nil {
				t.Fatal("no error")
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if strings.Contains(err.Error(), testAgeSecret) {
				t.Error("the error repeats a private key")
			}
		})
	}
}

func TestParseEncryption(t *testing.T) {
	dir := t.TempDir()
	in := withAccount("    encryption:\n      recipients: [" + testRecipient + "]\n" +
		"      recipients_file: keys/r.txt\n      identity_file: ~/k.txt\n")
	cfg, err := Parse([]byte(in), filepath.Join(dir, "t.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Accounts[0]
	home, _ := os.UserHomeDir()
	if a.IndexOn() {
		t.Error("an encrypted account fills a search index")
	}
	if !a.Encrypted() || a.Encryption.RecipientsFile != filepath.Join(dir, "keys/r.txt") ||
		a.Encryption.IdentityFile != filepath.Join(home, "k.txt") {
		t.Errorf("encryption %+v", a.Encryption)
	}
	cfg, _ = Parse([]byte(base), "t.yaml")
	if cfg.Accounts[0].Encrypted() {
		t.Error("an account without an encryption block is encrypted")
	}
}

// TestEncryptionKeys reads the keys from their files: errors name the key
// and the file, and never hold a private key.
func TestEncryptionKeys(t *testing.T) {
	dir := t.TempDir()
	id, _ := age.GenerateX25519Identity()
	other, _ := age.GenerateX25519Identity()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	recips := write("r.txt", "# keys\n\n"+other.Recipient().String()+"\n")
	idFile := write("id.txt", "# created: now\n"+id.String()+"\n")

	e := Encryption{Recipients: []string{testRecipient}, RecipientsFile: recips, IdentityFile: idFile}
	rs, err := e.RecipientKeys()
	if err != nil || len(rs) != 2 {
		t.Fatalf("recipients: %v, %v", rs, err)
	}
	ids, err := e.IdentityKeys()
	if err != nil || len(ids) != 1 {
		t.Fatalf("identities: %v, %v", ids, err)
	}
	// Only the identity: its public key is the recipient.
	rs, err = (&Encryption{IdentityFile: idFile}).RecipientKeys()
	if err != nil || len(rs) != 1 || rs[0].(*age.X25519Recipient).String() != id.Recipient().String() {
		t.Fatalf("recipients from the identity: %v, %v", rs, err)
	}
	if ids, err := (&Encryption{Recipients: []string{testRecipient}}).IdentityKeys(); ids != nil || err != nil {
		t.Errorf("no identity_file: %v, %v", ids, err)
	}

	unreadable := write("locked.txt", id.String())
	os.Chmod(unreadable, 0)
	bad := []struct {
		e    Encryption
		want string
		ids  bool
	}{
		{Encryption{RecipientsFile: filepath.Join(dir, "none.txt")},
			"encryption.recipients_file: open " + filepath.Join(dir, "none.txt") + ": no such file or directory", false},
		{Encryption{RecipientsFile: write("bad.txt", testRecipient+"\nage1zzz\n")},
			"encryption.recipients_file " + filepath.Join(dir, "bad.txt") + ": line 2: malformed recipient", false},
		{Encryption{RecipientsFile: write("secret.txt", id.String()+"\n")},
			"encryption.recipients_file " + filepath.Join(dir, "secret.txt") + ": line 1: a private key", false},
		{Encryption{RecipientsFile: write("empty.txt", "# nothing\n")},
			"encryption.recipients_file " + filepath.Join(dir, "empty.txt") + ": no recipients in it", false},
		{Encryption{IdentityFile: filepath.Join(dir, "none.txt")},
			"encryption.identity_file: open " + filepath.Join(dir, "none.txt") + ": no such file or directory", true},
		{Encryption{IdentityFile: recips},
			"encryption.identity_file " + recips + ": error at line 3: unknown identity type", true},
	}
	if os.Geteuid() != 0 { // root reads any file
		bad = append(bad, struct {
			e    Encryption
			want string
			ids  bool
		}{Encryption{IdentityFile: unreadable}, "encryption.identity_file: open " + unreadable + ": permission denied", true})
	}
	for _, b := range bad {
		var err error
		if b.ids {
			_, err = b.e.IdentityKeys()
		} else {
			_, err = b.e.RecipientKeys()
		}
		if err == nil || !strings.HasPrefix(err.Error(), b.want) {
			t.Errorf("%+v: %v\nwant %s…", b.e, err, b.want)
		}
		if err != nil && (strings.Contains(err.Error(), id.String()) || strings.Contains(err.Error(), "AGE-SECRET-KEY-1")) {
			t.Errorf("error holds a private key: %v", err)
		}
	}
}
