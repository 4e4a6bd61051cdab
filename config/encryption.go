package config

import (
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
)

// Encryption encrypts an account's archive at rest with age: each message
// file is encrypted to the recipients (public keys), and only an identity
// (a private key) reads it. A backup needs the recipients alone; the
// identity is needed only where the archive is read.
type Encryption struct {
	Recipients     []string `yaml:"recipients"`      // age public keys: "age1…" (X25519) or "age1pq1…"
	RecipientsFile string   `yaml:"recipients_file"` // a file of recipients, one per line
	IdentityFile   string   `yaml:"identity_file"`   // age identities ("AGE-SECRET-KEY-1…"), to read the archive
}

// Encrypted reports whether the account's archive is encrypted: whether
// it has an encryption block.
func (a *Account) Encrypted() bool {
	e := a.Encryption
	return len(e.Recipients) > 0 || e.RecipientsFile != "" || e.IdentityFile != ""
}

// maxKeyFile bounds what is read from a recipients or identity file.
const maxKeyFile = 1 << 20

// RecipientKeys returns the recipients to encrypt to: those of recipients
// and recipients_file, or, when neither is set, those of the identities
// of identity_file. Errors name the key and the file.
func (e *Encryption) RecipientKeys() ([]age.Recipient, error) {
	var out []age.Recipient
	for i, s := range e.Recipients {
		r, err := parseRecipient(s)
		if err != nil {
			return nil, fmt.Errorf("encryption.recipients[%d]: %w", i, err)
		}
		out = append(out, r)
	}
	if e.RecipientsFile != "" {
		data, err := readKeyFile(e.RecipientsFile)
		if err != nil {
			return nil, fmt.Errorf("encryption.recipients_file: %w", err)
		}
		rs, err := parseRecipients(data)
		if err != nil {
			return nil, fmt.Errorf("encryption.recipients_file %s: %w", e.RecipientsFile, err)
		}
		out = append(out, rs...)
	}
	if len(out) == 0 && e.IdentityFile != "" {
		ids, err := e.IdentityKeys()
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			out = append(out, recipientOf(id))
		}
	}
	if err := checkMix(out); err != nil {
		return nil, fmt.Errorf("encryption: %w", err)
	}
	return out, nil
}

// IdentityKeys returns the identities of identity_file, or none when it is
// not set. Errors name the key and the file, never a key.
func (e *Encryption) IdentityKeys() ([]age.Identity, error) {
	if e.IdentityFile == "" {
		return nil, nil
	}
	data, err := readKeyFile(e.IdentityFile)
	if err != nil {
		return nil, fmt.Errorf("encryption.identity_file: %w", err)
	}
	ids, err := age.ParseIdentities(strings.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("encryption.identity_file %s: %w", e.IdentityFile, err)
	}
	return ids, nil
}

// parseRecipient parses one public key. A private key given by mistake is
// refused without being repeated.
func parseRecipient(s string) (age.Recipient, error) {
	switch {
	case strings.HasPrefix(strings.ToUpper(s), "AGE-SECRET-KEY-"):
		return nil, fmt.Errorf("a private key (AGE-SECRET-KEY-…) where a recipient (age1…) belongs: " +
			"give its public key (age-keygen -y) and keep the private key off the backup host")
	case strings.HasPrefix(s, "age1pq1"):
		return age.ParseHybridRecipient(s)
	case strings.HasPrefix(s, "age1"):
		return age.ParseX25519Recipient(s)
	}
	return nil, fmt.Errorf("%q is not an age recipient (age1…)", s)
}

// parseRecipients parses a recipients file: one recipient a line, blank
// lines and lines starting with "#" ignored.
func parseRecipients(data string) ([]age.Recipient, error) {
	var out []age.Recipient
	for n, line := range strings.Split(data, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r, err := parseRecipient(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no recipients in it")
	}
	return out, nil
}

// readKeyFile reads a recipients or identity file. Its errors name the
// file (os's do).
func readKeyFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	switch {
	case err != nil:
		return "", fmt.Errorf("read %s: %w", path, err)
	case len(b) > maxKeyFile:
		return "", fmt.Errorf("%s: longer than %d bytes", path, maxKeyFile)
	}
	return string(b), nil
}

// recipientOf returns the public key of an identity that ParseIdentities
// returns.
func recipientOf(id age.Identity) age.Recipient {
	switch i := id.(type) {
	case *age.X25519Identity:
		return i.Recipient()
	case *age.HybridIdentity:
		return i.Recipient()
	}
	return nil
}

// checkMix refuses post-quantum and X25519 recipients together: age would
// refuse to encrypt to them at every message.
func checkMix(rs []age.Recipient) error {
	pq := 0
	for _, r := range rs {
		if _, ok := r.(*age.HybridRecipient); ok {
			pq++
		}
	}
	if pq > 0 && pq < len(rs) {
		return fmt.Errorf("post-quantum (age1pq1…) and X25519 (age1…) recipients cannot be mixed: " +
			"a file would be only as safe as its weakest recipient")
	}
	return nil
}

// checkEncryption checks the encryption block as far as the file alone
// tells: the recipients written in it, and the files' paths, resolved
// against dir. The files are read when the keys are needed
// (RecipientKeys, IdentityKeys).
func checkEncryption(a *Account, s *section, dir string) {
	e := &a.Encryption
	if _, ok := s.lines["encryption"]; ok && !a.Encrypted() {
		s.errorf("encryption", "encryption: empty; give recipients or recipients_file (and identity_file where the archive is read)")
	}
	var rs []age.Recipient
	for i, r := range e.Recipients {
		key := fmt.Sprintf("encryption.recipients[%d]", i)
		rec, err := parseRecipient(r)
		if err != nil {
			s.errorf("encryption.recipients", "%s: %v", key, err)
			continue
		}
		rs = append(rs, rec)
	}
	if err := checkMix(rs); err != nil {
		s.errorf("encryption.recipients", "encryption.recipients: %v", err)
	}
	if a.Encrypted() && a.Index != nil && *a.Index {
		s.errorf("index", "index: an encrypted account has no search index: it would hold the words of every message "+
			"in clear text; remove index: true")
	}
	e.RecipientsFile = resolvePath(s, "encryption.recipients_file", dir, e.RecipientsFile)
	e.IdentityFile = resolvePath(s, "encryption.identity_file", dir, e.IdentityFile)
}
