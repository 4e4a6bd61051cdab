package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
)

// TestKillRestoreRandom kills `mailkeep restore` with SIGKILL at random
// points of its progress (a random count of messages on the target, or a
// random moment before the first), twice per target account, then lets a
// run finish: the target must hold every message exactly once.
func TestKillRestoreRandom(t *testing.T) {
	trials := trials("MAILKEEP_RESTORE_CRASH_TRIALS", 50)
	targets := make([]string, (trials+1)/2)
	for i := range targets {
		targets[i] = fmt.Sprintf("t%d", i)
	}
	srv := dovecottest.Start(t, dovecottest.Options{Users: append([]string{"alice"}, targets...)})
	src := srv.Dial(t, "alice")
	if err := corpus.Load(t.Context(), src, corpus.Generate(corpus.Options{Seed: 41, Count: 120})); err != nil {
		t.Fatal(err)
	}
	want := accountLines(t, src)
	n := 0
	for _, lines := range want {
		n += len(lines)
	}
	cfg := writeTargetsConfig(t, srv, targets)
	if r := mailkeep(t, nil, "backup", "--config", cfg, "alice"); r.code != exitOK {
		t.Fatalf("backup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	killed := 0
	for i, target := range targets {
		probe := srv.Dial(t, target)
		for j := 0; j < 2 && 2*i+j < trials; j++ {
			have := countMessages(t, probe)
			if killRestoreAt(t, cfg, target, probe, have+rng.IntN(n-have+1), rng) {
				killed++
			}
		}
		r := mailkeep(t, nil, "restore", "--config", cfg, "--account", "alice", "--to-account", target)
		if r.code != exitOK {
			t.Fatalf("run after the kills into %s: exit %d\n%s%s", target, r.code, r.stdout, r.stderr)
		}
		sameAccount(t, target, accountLines(t, probe), want)
	}
	t.Logf("%d trials, %d killed mid-run", trials, killed)
	if killed < trials*3/4 {
		t.Errorf("only %d of %d trials killed a running restore", killed, trials)
	}
}

// killRestoreAt starts a restore into target and SIGKILLs it once the
// target holds at least held messages; it reports whether the process was
// still running.
func killRestoreAt(t *testing.T, cfg, target string, probe *imapclient.Client, held int, rng *rand.Rand) bool {
	t.Helper()
	cmd := exec.Command(binary, "restore", "--config", cfg, "--account", "alice", "--to-account", target)
	return killWhen(t, cmd, func() int { return countMessages(t, probe) }, held, rng)
}

// writeTargetsConfig writes a config with alice and the target accounts.
func writeTargetsConfig(t *testing.T, srv *dovecottest.Server, targets []string) string {
	t.Helper()
	dir := t.TempDir()
	host, port, _ := strings.Cut(srv.IMAPAddr, ":")
	var b strings.Builder
	fmt.Fprintf(&b, "archive: %s/archive\naccounts:\n", dir)
	for _, u := range append([]string{"alice"}, targets...) {
		fmt.Fprintf(&b, "  - {name: %s, protocol: imap, host: %s, port: %s, tls: none, username: %s, password: %s}\n",
			u, host, port, u, srv.Password(u))
	}
	path := filepath.Join(dir, "mailkeep.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
