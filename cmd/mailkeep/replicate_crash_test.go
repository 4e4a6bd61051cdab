package main

import (
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
	"github.com/mailkeep/mailkeep/internal/s3test"
)

// TestKillReplicate SIGKILLs `mailkeep replicate` at random points, to S3
// (versitygw) and to a directory: half the trials at a random count of
// message objects arrived, half at a random moment of a run (which also
// falls in the catalog copy, the manifest and the removals); 20 trials to
// S3 and 6 to a directory (MAILKEEP_REPLICATE_CRASH_TRIALS sets the
// first number, the second is a third of it). Between
// trials the archive changes: new mail, flag changes, messages deleted on
// the server and pruned, or the replica starts empty. After each kill the replica must verify clean
// at the state it had (or have no manifest yet, before the first), and
// the next run must send exactly the objects that had not arrived and
// leave a replica that verifies clean with every row of the archive. At
// the end the archive goes and the S3 replica is restored into a fresh
// Dovecot account, equal to the source account.
func TestKillReplicate(t *testing.T) {
	srv, cfg, root, _ := restoreSetup(t, corpus.Options{Seed: 44, Count: 120, Big: 1 << 20})
	s3 := s3test.Start(t, "mail")
	copies := t.TempDir()
	cfgs := map[string]string{"s3": withReplicaConfig(t, cfg, "s3", s3Replica(s3, "crash")),
		"dir": withReplicaConfig(t, cfg, "dir", "      - dir: "+copies+"\n")}
	dirs := map[string]string{"s3": filepath.Join(s3.Data, "mail", "crash", "alice"), "dir": filepath.Join(copies, "alice")}
	froms := map[string]string{"s3": "s3://mail/crash", "dir": copies}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	n := trials("MAILKEEP_REPLICATE_CRASH_TRIALS", 20)
	total := n + n/3 // n to S3, a third as many to a directory
	killed := 0
	last := map[string]time.Duration{"s3": 500 * time.Millisecond, "dir": 500 * time.Millisecond}
	for i := range total {
		kind := "s3"
		if i >= n {
			kind = "dir"
		}
		tr := &crashTrial{t: t, cfg: cfgs[kind], root: root, dir: dirs[kind], from: froms[kind]}
		tr.change(srv, i, rng)
		if tr.kill(rng, i%2 == 0, last[kind]) {
			killed++
		}
		last[kind] = tr.finish()
	}
	t.Logf("%d trials, %d killed mid-run", total, killed)
	if killed < total*3/5 {
		t.Errorf("only %d of %d trials killed a running replicate", killed, total)
	}

	// The archive and the replica as the server is now.
	for _, args := range [][]string{{"backup", "--config", cfgs["s3"], "alice"}, {"replicate", "--config", cfgs["s3"], "alice"}} {
		if r := mailkeep(t, nil, args...); r.code != exitOK {
			t.Fatalf("%s: exit %d\n%s%s", args[0], r.code, r.stdout, r.stderr)
		}
	}
	want := accountLines(t, srv.Dial(t, "alice"))
	if err := os.Rename(root, root+".gone"); err != nil {
		t.Fatal(err)
	}
	r := mailkeep(t, nil, "restore", "--config", cfgs["s3"], "--account", "alice", "--to-account", "bob", "--from", froms["s3"])
	if r.code != exitOK {
		t.Fatalf("restore --from: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	sameAccount(t, "restored from the replica", accountLines(t, srv.Dial(t, "bob")), want)
}

// withReplicaConfig writes a copy of the config at cfg, named after kind,
// with alice's replicas block.
func withReplicaConfig(t *testing.T, cfg, kind, block string) string {
	t.Helper()
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(filepath.Dir(cfg), kind+".yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	addReplicas(t, path, block)
	return path
}

// crashTrial is one kill and recovery of a replica.
type crashTrial struct {
	t    *testing.T
	cfg  string
	root string // the archive
	dir  string // where the replica's objects lie as files (the S3 server's data directory for S3)
	from string // --from
}

// change alters the archive or the replica before trial i: every fifth
// trial empties the replica, others add mail and flags or prune.
func (tr *crashTrial) change(srv *dovecottest.Server, i int, rng *rand.Rand) {
	t := tr.t
	switch i % 5 {
	case 0:
		if err := os.RemoveAll(tr.dir); err != nil {
			t.Fatal(err)
		}
	case 1, 3:
		c := srv.Dial(t, "alice")
		more := corpus.More(corpus.Options{Seed: 44, Folders: []string{"INBOX", "Archive"}}, 6, 1000*i)
		if err := corpus.Load(t.Context(), c, more); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		seq := uint32(1 + rng.IntN(20))
		op := []imap.StoreFlagsOp{imap.StoreFlagsAdd, imap.StoreFlagsDel}[rng.IntN(2)]
		if err := c.Store(imap.SeqSetNum(seq, seq+1, seq+2), &imap.StoreFlags{Op: op, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err != nil {
			t.Fatal(err)
		}
		if r := mailkeep(t, nil, "backup", "--config", tr.cfg, "alice"); r.code != exitOK {
			t.Fatalf("backup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	case 2:
		tr.prune(srv, 3)
	}
}

// kill starts a replicate and SIGKILLs it, at a random count of arrived
// objects or after a random part of the last run's duration; it reports
// whether the process was still running. The replica it leaves must
// verify clean.
func (tr *crashTrial) kill(rng *rand.Rand, byProgress bool, last time.Duration) bool {
	t := tr.t
	cmd := exec.Command(binary, "replicate", "--config", tr.cfg, "alice")
	var killed bool
	if byProgress {
		lack := len(tr.archiveObjects()) - len(tr.objects())
		target := len(tr.objects()) + rng.IntN(max(lack, 0)+1)
		killed = killWhen(t, cmd, func() int { return len(tr.objects()) }, target, rng)
	} else {
		killed = killAfterDelay(t, cmd, time.Duration(rng.Int64N(int64(last)+1)))
	}
	if _, err := os.Stat(filepath.Join(tr.dir, "MANIFEST")); err != nil {
		return killed // no state published yet: nothing to verify
	}
	if r := mailkeep(t, nil, "verify", "--config", tr.cfg, "--from", tr.from, "alice"); r.code != exitOK {
		t.Fatalf("verify after the kill: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	return killed
}

// killAfterDelay starts cmd and SIGKILLs it after d, unless it ended before.
func killAfterDelay(t *testing.T, cmd *exec.Cmd, d time.Duration) bool {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return false
	case <-time.After(d):
		return kill(cmd, done)
	}
}

// finish lets a replicate run to the end: it must send exactly the
// objects the replica lacks, and leave it complete. It returns how long
// the replicate took.
func (tr *crashTrial) finish() time.Duration {
	t := tr.t
	want := tr.archiveObjects()
	lack := 0
	have := tr.settled()
	for sum := range want {
		if !have[sum] {
			lack++
		}
	}
	start := time.Now()
	r := mailkeep(t, nil, "replicate", "--config", tr.cfg, "--json", "alice")
	took := time.Since(start)
	var rep replicateReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != exitOK || rep.Outcome != "ok" {
		t.Fatalf("replicate after the kill: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if rep.Sent != lack || rep.Objects != len(want) {
		t.Fatalf("replicate after the kill sent %d objects of %d, want %d (lacking) of %d", rep.Sent, rep.Objects, lack, len(want))
	}
	r = mailkeep(t, nil, "verify", "--config", tr.cfg, "--from", tr.from, "alice")
	if r.code != exitOK || !strings.Contains(r.stdout, fmt.Sprintf(": clean — %d folders, %d messages", tr.folders(), rep.Messages)) {
		t.Fatalf("verify after the run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := tr.objects(); len(got) != len(want) {
		t.Fatalf("the replica holds %d message objects, the archive names %d", len(got), len(want))
	}
	return took
}

// settled returns the replica's message objects once their count has
// not changed for 100 ms: the S3 server completes the PUTs whose bodies
// had arrived when the client was killed.
func (tr *crashTrial) settled() map[string]bool {
	prev := tr.objects()
	for {
		time.Sleep(100 * time.Millisecond)
		now := tr.objects()
		if len(now) == len(prev) {
			return now
		}
		prev = now
	}
}

// objects returns the message objects in the replica, by SHA-256.
func (tr *crashTrial) objects() map[string]bool {
	out := map[string]bool{}
	filepath.WalkDir(filepath.Join(tr.dir, "msg"), func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			if b, herr := hex.DecodeString(e.Name()); herr == nil && len(b) == 32 {
				out[e.Name()] = true
			}
		}
		return nil
	})
	return out
}

// archiveObjects returns the SHA-256s the archive's rows name.
func (tr *crashTrial) archiveObjects() map[string]bool {
	out := map[string]bool{}
	db := openCatalog(tr.t, filepath.Join(tr.root, "alice"))
	defer db.Close()
	rows, err := db.Query(`SELECT DISTINCT lower(hex(sha256)) FROM messages`)
	if err != nil {
		tr.t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		rows.Scan(&s)
		out[s] = true
	}
	return out
}

func (tr *crashTrial) folders() int {
	db := openCatalog(tr.t, filepath.Join(tr.root, "alice"))
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM folders`).Scan(&n); err != nil {
		tr.t.Fatal(err)
	}
	return n
}

func openCatalog(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "catalog.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// prune deletes n messages of INBOX on the server, backs up (they are
// gone) and prunes them from the archive, as "mailkeep prune" would two
// days later.
func (tr *crashTrial) prune(srv *dovecottest.Server, n int) {
	t := tr.t
	c := srv.Dial(t, "alice")
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	set := imap.SeqSet{}
	set.AddRange(1, uint32(n))
	if err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	if r := mailkeep(t, nil, "backup", "--config", tr.cfg, "alice"); r.code != exitOK {
		t.Fatalf("backup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	a, err := archive.OpenWriter(t.Context(), tr.root, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	res, err := a.Prune(t.Context(), archive.PruneOptions{Retention: archive.Retention{GoneAfter: 24 * time.Hour},
		Now: time.Now().Add(48 * time.Hour)})
	if err != nil || res.Messages != n {
		t.Fatalf("prune: %d messages, %v; want %d", res.Messages, err, n)
	}
}
