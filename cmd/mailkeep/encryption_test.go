package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
)

// withEncryption returns the config at path with an encryption block
// added to account user, written beside it as name.
func withEncryption(t *testing.T, path, user, name, block string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	account := "    username: " + user + "\n"
	i := strings.Index(string(data), account)
	j := i + len(account) + strings.Index(string(data[i+len(account):]), "\n") + 1 // after password_file
	if i < 0 {
		t.Fatalf("no account %s in %s", user, data)
	}
	out := string(data[:j]) + "    encryption:\n" + block + string(data[j:])
	p := filepath.Join(filepath.Dir(path), name)
	if err := os.WriteFile(p, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEncryptedCLI: a backup host with the recipient alone backs an
// account up into an encrypted archive and verifies it against the stored
// hashes; a restore needs the identity, says so without it or with
// another, and with it restores every message exactly. Turning encryption
// off or on for an existing archive is refused.
func TestEncryptedCLI(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{Users: restoreUsers})
	c := srv.Dial(t, "alice")
	if err := corpus.Load(t.Context(), c, corpus.Generate(corpus.Options{Seed: 33, Count: 40, Big: 2 << 20})); err != nil {
		t.Fatal(err)
	}
	want := accountLines(t, c)
	plain, root := writeRestoreConfig(t, srv)
	dir := filepath.Dir(plain)
	id, _ := age.GenerateX25519Identity()
	other, _ := age.GenerateX25519Identity()
	os.WriteFile(filepath.Join(dir, "r.txt"), []byte("# alice's archive\n"+id.Recipient().String()+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "id.txt"), []byte(id.String()+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "other.txt"), []byte(other.String()+"\n"), 0o600)
	backupCfg := withEncryption(t, plain, "alice", "backup.yaml", "      recipients_file: r.txt\n")
	readCfg := withEncryption(t, plain, "alice", "read.yaml", "      identity_file: id.txt\n")
	wrongCfg := withEncryption(t, plain, "alice", "wrong.yaml", "      identity_file: other.txt\n")

	check := func(r result, code int, stdout, stderr string) {
		t.Helper()
		if r.code != code || !strings.Contains(r.stdout, stdout) || !strings.Contains(r.stderr, stderr) {
			t.Fatalf("exit %d, want %d, %q and %q\nstdout: %s\nstderr: %s", r.code, code, stdout, stderr, r.stdout, r.stderr)
		}
	}
	check(mailkeep(t, nil, "backup", "--config", backupCfg, "alice"), exitOK, "alice: ok", "")
	if data, _ := os.ReadFile(filepath.Join(root, "alice", "FORMAT")); string(data) != "mailkeep-archive 2 age\n" {
		t.Fatalf("FORMAT %q", data)
	}
	check(mailkeep(t, nil, "verify", "--config", backupCfg, "alice"), exitOK,
		"checked against the hashes they were stored with", "")
	r := mailkeep(t, nil, "verify", "--config", readCfg, "alice")
	check(r, exitOK, "alice: clean", "")
	if strings.Contains(r.stdout, "hashes") {
		t.Errorf("verify with the identity did not decode: %s", r.stdout)
	}

	restore := func(cfg, to string) result {
		return mailkeep(t, nil, "restore", "--config", cfg, "--account", "alice", "--to-account", to, "--no-progress")
	}
	check(restore(backupCfg, "carol"), exitFailure, "", "no identity was given")
	check(restore(wrongCfg, "carol"), exitFailure, "", "none of the given identities can decrypt it")
	r = restore(wrongCfg, "carol")
	if !strings.Contains(r.stderr, filepath.Join(root, "alice", "mail")) {
		t.Errorf("the error names no file: %s", r.stderr)
	}
	if got := accountLines(t, srv.Dial(t, "carol")); len(got["INBOX"]) != 0 || len(got) != 1 {
		t.Fatalf("a refused restore changed the target: %v", got)
	}
	check(restore(readCfg, "carol"), exitOK, "alice → carol: ok", "")
	sameAccount(t, "restored", accountLines(t, srv.Dial(t, "carol")), want)

	// export reads with the identity: every message, byte for byte, as the
	// plain archive of the same server gives it.
	out := filepath.Join(dir, "export")
	check(mailkeep(t, nil, "export", "--config", backupCfg, "alice", "--format", "eml", "--to", out), exitFailure,
		"", "no identity was given")
	check(mailkeep(t, nil, "export", "--config", readCfg, "alice", "--format", "eml", "--to", out), exitOK, "", "")
	check(mailkeep(t, nil, "backup", "--config", plain, "carol"), exitOK, "carol: ok", "")
	plainOut := filepath.Join(dir, "export-plain")
	check(mailkeep(t, nil, "export", "--config", plain, "carol", "--format", "eml", "--to", plainOut), exitOK, "", "")
	if got, want := emlContents(t, out), emlContents(t, plainOut); len(got) == 0 || !slices.Equal(got, want) {
		t.Errorf("export of the encrypted archive: %d messages, of the plain one %d, or they differ", len(got), len(want))
	}

	// No search index: find and index skip the account; ls and show read
	// the messages with the identity.
	if _, err := os.Stat(filepath.Join(root, "alice", "index.db")); err == nil {
		t.Error("an encrypted account has a search index")
	}
	check(mailkeep(t, nil, "index", "--config", readCfg, "alice"), exitOK, "alice: skipped — it is encrypted", "")
	r = mailkeep(t, nil, "find", "--config", readCfg, "alice", "subject:x")
	if !strings.Contains(r.stdout+r.stderr, "alice: not searched: it is encrypted") {
		t.Errorf("find: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = mailkeep(t, nil, "ls", "--config", readCfg, "alice", "INBOX")
	if r.code != exitOK || strings.Contains(r.stdout, "unreadable") {
		t.Fatalf("ls with the identity: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	fields := strings.Fields(strings.Split(strings.TrimSpace(r.stdout), "\n")[1])
	handle := fields[len(fields)-1]
	check(mailkeep(t, nil, "show", "--config", readCfg, "--headers", handle), exitOK, "Message-ID", "")
	check(mailkeep(t, nil, "show", "--config", backupCfg, handle), exitFailure, "", "no identity was given")

	// prune needs no key.
	pruneCfg := withEncryption(t, plain, "alice", "prune.yaml", "      recipients_file: r.txt\n    retention:\n      gone_after: 1d\n")
	check(mailkeep(t, nil, "prune", "--config", pruneCfg, "alice"), exitOK, "", "")

	// The archive stays encrypted; a plain archive stays plain.
	check(mailkeep(t, nil, "backup", "--config", plain, "alice"), exitUsage, "never half encrypted", "")
	check(mailkeep(t, nil, "backup", "--config", plain, "bob"), exitOK, "bob: ok", "")
	bobCfg := withEncryption(t, plain, "bob", "bob.yaml", "      recipients_file: r.txt\n")
	check(mailkeep(t, nil, "backup", "--config", bobCfg, "bob"), exitUsage, "never half encrypted", "")
	if data, _ := os.ReadFile(filepath.Join(root, "bob", "FORMAT")); string(data) != "mailkeep-archive 1\n" {
		t.Fatalf("bob's FORMAT %q", data)
	}

	// config check reads the key files.
	os.Remove(filepath.Join(dir, "r.txt"))
	check(mailkeep(t, nil, "config", "check", "--config", backupCfg, "--no-login", "alice"), exitFailure,
		"alice: account \"alice\": encryption.recipients_file: open "+filepath.Join(dir, "r.txt"), "")
}

// emlContents returns the contents of the .eml files under dir, sorted.
func emlContents(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".eml") {
			return err
		}
		data, err := os.ReadFile(path)
		out = append(out, string(data))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestKillEncryptedBackup is TestKillBackup for an encrypted account on a
// backup host without the identity: SIGKILL at random points of the
// progress, twice per archive, then a run that finishes. The files a kill
// leaves between their publication and their rows are adopted from their
// staged rows, so every message is archived exactly once; verify without
// the identity (against the stored hashes) and with it (decoding every
// file) is clean. MAILKEEP_CRYPT_CRASH_TRIALS sets the number of trials.
func TestKillEncryptedBackup(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	msgs := corpus.Generate(corpus.Options{Seed: 6, Count: 300, Big: 3 << 20})
	if err := corpus.Load(t.Context(), srv.Dial(t, "alice"), msgs); err != nil {
		t.Fatal(err)
	}
	id, _ := age.GenerateX25519Identity()
	block := "    encryption:\n      recipients: [\"" + id.Recipient().String() + "\"]\n"
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	trials, killed, orphans := trials("MAILKEEP_CRYPT_CRASH_TRIALS", 20), 0, 0
	for i := 0; i < trials; i += 2 {
		cfg, root := writeConfig(t, srv, srv.Password("alice"), block)
		for j := 0; j < 2 && i+j < trials; j++ {
			have := countFiles(root)
			if killAtProgress(t, cfg, root, have+rng.IntN(len(msgs)-have+1), rng) {
				killed++
			}
			orphans += countFiles(root) - countRows(t, root)
		}
		if r := mailkeep(t, nil, "backup", "--config", cfg); r.code != exitOK {
			t.Fatalf("run after the kills: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		r := mailkeep(t, nil, "verify", "--config", cfg)
		if r.code != exitOK || !strings.Contains(r.stdout, fmt.Sprintf("alice: clean — 8 folders, %d messages", len(msgs))) {
			t.Fatalf("verify without the identity: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		keys := &archive.Keys{Identities: []age.Identity{id}}
		a, err := archive.OpenWriterKeys(t.Context(), root, "alice", nil, keys)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := a.Verify(t.Context(), archive.VerifyOptions{})
		a.Close()
		if err != nil || rep.Messages != len(msgs) || len(rep.Problems) > 0 || rep.HashesOnly {
			t.Fatalf("trial %d: verify with the identity: %d messages (want %d), %v, %v", i, rep.Messages, len(msgs), rep.Problems, err)
		}
	}
	t.Logf("%d trials, %d killed mid-run, leaving %d files without rows", trials, killed, orphans)
	if killed < trials*3/4 {
		t.Errorf("only %d of %d trials killed a running backup", killed, trials)
	}
}

// countRows counts alice's catalog rows.
func countRows(t *testing.T, root string) int {
	t.Helper()
	snap, err := archive.OpenSnapshot(t.Context(), root, "alice")
	if errors.Is(err, archive.ErrNoArchive) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	folders, err := snap.Folders(t.Context(), archive.View{Gone: archive.GoneToo})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range folders {
		n += f.Count
	}
	return n
}
