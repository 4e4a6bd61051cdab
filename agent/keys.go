package agent

import (
	"fmt"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/config"
)

// BackupKeys returns what a backup of account a needs of its encryption:
// nil when it is not encrypted, else its recipients alone. A backup never
// reads the identity file, unless the recipients come from it (an account
// whose block has only identity_file).
func BackupKeys(a *config.Account) (*archive.Keys, error) {
	if !a.Encrypted() {
		return nil, nil
	}
	rs, err := a.Encryption.RecipientKeys()
	if err != nil {
		return nil, fmt.Errorf("account %q: %w", a.Name, err)
	}
	return &archive.Keys{Recipients: rs}, nil
}

// ReadKeys returns what reading account a's archive needs of its
// encryption (restore, serve, export, verify): nil when it is not
// encrypted, else the identities of its identity_file, none when that is
// not set (a reader then gets archive.ErrNoIdentity at the first message).
func ReadKeys(a *config.Account) (*archive.Keys, error) {
	if !a.Encrypted() {
		return nil, nil
	}
	ids, err := a.Encryption.IdentityKeys()
	if err != nil {
		return nil, fmt.Errorf("account %q: %w", a.Name, err)
	}
	return &archive.Keys{Identities: ids}, nil
}

// ArchiveKeys returns keys that only say whether account a is encrypted,
// for a writer that writes no message file (prune): nil when it is not,
// empty keys when it is. No key file is read.
func ArchiveKeys(a *config.Account) *archive.Keys {
	if !a.Encrypted() {
		return nil
	}
	return &archive.Keys{}
}

// CheckKeys reads account a's recipients and identity files as a backup
// and a reader would: what "mailkeep config check" tries.
func CheckKeys(a *config.Account) error {
	if _, err := BackupKeys(a); err != nil {
		return err
	}
	_, err := ReadKeys(a)
	return err
}
