package agent

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"filippo.io/age"

	"github.com/mailkeep/mailkeep/config"
)

// TestServedAccounts: an encrypted account is served with the identities
// of its identity_file, and left out without one; serving nothing is a
// configuration error.
func TestServedAccounts(t *testing.T) {
	dir := t.TempDir()
	id, _ := age.GenerateX25519Identity()
	idFile := filepath.Join(dir, "id.txt")
	os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600)
	cfg := &config.Config{Accounts: []config.Account{
		{Name: "plain"},
		{Name: "read", Encryption: config.Encryption{IdentityFile: idFile}},
		{Name: "backup", Encryption: config.Encryption{Recipients: []string{id.Recipient().String()}}},
	}}
	log := slog.New(slog.DiscardHandler)
	names, ids, err := servedAccounts(cfg, []string{"plain", "read", "backup"}, log)
	if err != nil || !slices.Equal(names, []string{"plain", "read"}) || len(ids["read"]) != 1 || ids["plain"] != nil {
		t.Fatalf("served %v, identities %v, %v", names, ids, err)
	}
	if _, _, err := servedAccounts(cfg, []string{"backup"}, log); !errors.Is(err, ErrConfig) {
		t.Errorf("only an account without its identity: %v", err)
	}
	cfg.Accounts[1].Encryption.IdentityFile = filepath.Join(dir, "none.txt")
	if _, _, err := servedAccounts(cfg, []string{"read"}, log); err == nil {
		t.Error("a missing identity file served")
	}
}
