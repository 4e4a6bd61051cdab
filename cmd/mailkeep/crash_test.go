package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/index"
	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
)

// trials reads a trial count from the environment variable name, or
// returns def.
func trials(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// TestKillBackup kills `mailkeep backup` with SIGKILL at random points of
// its progress, twice per archive, then lets one run finish: every message
// must be archived exactly once and verify must find nothing wrong. The
// last archive then loses its catalog, which is rebuilt from the Maildir
// tree. Kill points are chosen by progress (a random number of published
// files, or a random moment before the first), not by time, so that they
// fall inside the run however loaded the machine is.
func TestKillBackup(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	msgs := corpus.Generate(corpus.Options{Seed: 5, Count: 300, Big: 3 << 20})
	if err := corpus.Load(t.Context(), srv.Dial(t, "alice"), msgs); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	trials, killed := trials("MAILKEEP_CRASH_TRIALS", 50), 0
	var cfg, root string
	for i := 0; i < trials; i += 2 {
		cfg, root = writeConfig(t, srv, srv.Password("alice"), "")
		for j := 0; j < 2 && i+j < trials; j++ {
			have := countFiles(root)
			target := have + rng.IntN(len(msgs)-have+1)
			if killAtProgress(t, cfg, root, target, rng) {
				killed++
			}
			checkIndexBehind(t, root)
		}
		finishAndCheck(t, cfg, root, len(msgs))
	}
	t.Logf("%d trials, %d killed mid-run", trials, killed)
	if killed < trials*3/4 {
		t.Errorf("only %d of %d trials killed a running backup", killed, trials)
	}
	rebuildAndCheck(t, cfg, root, len(msgs))
}

// killAtProgress starts a backup and SIGKILLs it once the archive holds
// target published files; it reports whether the process was still running.
func killAtProgress(t *testing.T, cfg, root string, target int, rng *rand.Rand) bool {
	t.Helper()
	return killWhen(t, exec.Command(binary, "backup", "--config", cfg),
		func() int { return countFiles(root) }, target, rng)
}

// killWhen starts cmd and SIGKILLs it once progress() passes target (or,
// when target is already reached, at a random moment in its first 30 ms);
// it reports whether the process was still running.
func killWhen(t *testing.T, cmd *exec.Cmd, progress func() int, target int, rng *rand.Rand) bool {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	early := time.After(time.Duration(rng.IntN(30)) * time.Millisecond)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return false
		case <-early:
			if progress() >= target {
				return kill(cmd, done)
			}
		case <-tick.C:
			if progress() > target {
				return kill(cmd, done)
			}
		}
	}
}

func kill(cmd *exec.Cmd, done <-chan error) bool {
	cmd.Process.Kill()
	<-done
	return true
}

// countFiles counts the message files published in the archive.
func countFiles(root string) int {
	n := 0
	dirs, _ := filepath.Glob(filepath.Join(root, "alice", "mail", "*", ".mk", "cur"))
	more, _ := filepath.Glob(filepath.Join(root, "alice", "mail", "*", "*", ".mk", "cur"))
	for _, d := range append(dirs, more...) {
		entries, _ := os.ReadDir(d)
		n += len(entries)
	}
	return n
}

func finishAndCheck(t *testing.T, cfg, root string, want int) {
	t.Helper()
	r := mailkeep(t, nil, "backup", "--config", cfg)
	if r.code != exitOK {
		t.Fatalf("run after the kills: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	checkArchive(t, root, want)
	checkIndex(t, root, want)
}

// checkArchive: one catalog row per server message, and verify is clean.
func checkArchive(t *testing.T, root string, want int) {
	t.Helper()
	a, err := archive.OpenWriter(context.Background(), root, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	rep, err := a.Verify(context.Background(), archive.VerifyOptions{})
	if err != nil || rep.Messages != want || len(rep.Problems) > 0 {
		t.Fatalf("archive holds %d messages (want %d), problems %v, err %v", rep.Messages, want, rep.Problems, err)
	}
}

// checkIndexBehind: after a kill, every doc of the index has its catalog
// row: the index may lag the archive, never lead it.
func checkIndexBehind(t *testing.T, root string) {
	t.Helper()
	path := filepath.Join(root, "alice", index.File)
	if _, err := os.Stat(path); err != nil {
		return // killed before the index was created
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var docs int
	if err := db.QueryRow(`SELECT count(*) FROM docs`).Scan(&docs); err != nil {
		return // killed before the schema was committed
	}
	ix, err := index.OpenReadOnly(context.Background(), filepath.Join(root, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	hits, err := ix.Search(context.Background(), index.Query{}, index.SearchOptions{Limit: -1})
	if err != nil || len(hits) != docs {
		t.Fatalf("after a kill the index holds %d docs, %d of them with their catalog row (err %v)", docs, len(hits), err)
	}
}

// checkIndex: after a run that finished, the search index holds a doc for
// every catalog row and nothing else (the kills left it behind, never
// ahead, and the run caught it up).
func checkIndex(t *testing.T, root string, want int) {
	t.Helper()
	ix, err := index.OpenReadOnly(context.Background(), filepath.Join(root, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	hits, err := ix.Search(context.Background(), index.Query{}, index.SearchOptions{Limit: -1})
	if err != nil || len(hits) != want {
		t.Fatalf("the index finds %d messages (want %d), err %v", len(hits), want, err)
	}
	if lag, err := ix.Lag(context.Background()); err != nil || lag != 0 {
		t.Fatalf("the index lags by %d, err %v", lag, err)
	}
}

// rebuildAndCheck deletes the catalog, rebuilds it with the CLI, and checks
// that the next backup fetches nothing again.
func rebuildAndCheck(t *testing.T, cfg, root string, want int) {
	t.Helper()
	for _, f := range []string{"catalog.db", "catalog.db-wal", "catalog.db-shm"} {
		os.Remove(filepath.Join(root, "alice", f))
	}
	r := mailkeep(t, nil, "verify", "--config", cfg, "--rebuild-catalog", "alice")
	if r.code != exitOK || !strings.Contains(r.stdout, fmt.Sprintf("%d messages", want)) {
		t.Fatalf("rebuild: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = mailkeep(t, nil, "backup", "--config", cfg)
	if r.code != exitOK || !strings.Contains(r.stdout, " 0 new messages") {
		t.Fatalf("backup after rebuild: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := mailkeep(t, nil, "verify", "--config", cfg); r.code != exitOK || !strings.Contains(r.stdout, "alice: clean") {
		t.Fatalf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	checkArchive(t, root, want)
	checkIndex(t, root, want)
}

// TestKillPOP3Random SIGKILLs POP3 backups at random points of their
// progress (messages staged in the background, big ones streamed, batches
// committed), twice per archive, then lets a run finish: every message must
// be archived exactly once and verify must be clean. A last run in delete
// mode then empties the maildrop and records every deletion.
func TestKillPOP3Random(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	msgs := corpus.Generate(corpus.Options{Seed: 9, Count: 150, Big: 3 << 20, Folders: []string{"INBOX"}})
	if err := corpus.Load(t.Context(), srv.Dial(t, "bob"), msgs); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	trials, killed := trials("MAILKEEP_POP3_CRASH_TRIALS", 20), 0
	var dir, cfg string
	for i := 0; i < trials; i += 2 {
		dir = t.TempDir()
		cfg = writePOP3Config(t, dir, srv.POP3Addr, srv.Password("bob"), "    tls: none\n")
		cur := filepath.Join(dir, "archive", "home", "mail", "INBOX", ".mk", "cur")
		progress := func() int { entries, _ := os.ReadDir(cur); return len(entries) }
		for j := 0; j < 2 && i+j < trials; j++ {
			target := progress() + rng.IntN(len(msgs)-progress()+1)
			if killWhen(t, exec.Command(binary, "backup", "--config", cfg), progress, target, rng) {
				killed++
			}
		}
		if r := mailkeep(t, nil, "backup", "--config", cfg); r.code != exitOK {
			t.Fatalf("run after the kills: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		bodies, _ := archivedPOP3(t, filepath.Join(dir, "archive"))
		if len(bodies) != len(msgs) {
			t.Fatalf("trial %d: %d messages archived, want %d", i, len(bodies), len(msgs))
		}
		wantBodies(t, bodies, msgs)
		if r := mailkeep(t, nil, "verify", "--config", cfg); r.code != exitOK || !strings.Contains(r.stdout, "home: clean") {
			t.Fatalf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	}
	t.Logf("%d trials, %d killed mid-run", trials, killed)
	if killed < trials/2 {
		t.Errorf("only %d of %d trials killed a running backup", killed, trials)
	}
	deleteMode := writePOP3Config(t, dir, srv.POP3Addr, srv.Password("bob"), "    tls: none\n    pop3:\n      mode: delete\n")
	r := mailkeep(t, nil, "backup", "--config", deleteMode)
	if r.code != exitOK || !strings.Contains(r.stdout, fmt.Sprintf(", %d deleted from the server,", len(msgs))) {
		t.Fatalf("delete run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n := popStat(t, srv); n != 0 {
		t.Fatalf("server keeps %d messages after the delete run", n)
	}
	if bodies, deleted := archivedPOP3(t, filepath.Join(dir, "archive")); len(bodies) != len(msgs) || deleted != len(msgs) {
		t.Fatalf("%d archived, %d recorded deleted; want %d of each", len(bodies), deleted, len(msgs))
	}
}
