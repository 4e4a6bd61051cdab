package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/s3test"
)

// addReplicas gives alice's account in the config at cfg the replicas in
// block (YAML list items, indented for the account), with key files for
// the S3 server's keys in the config's directory as s3.access and
// s3.secret.
func addReplicas(t *testing.T, cfg, block string) {
	t.Helper()
	dir := filepath.Dir(cfg)
	os.WriteFile(filepath.Join(dir, "s3.access"), []byte(s3test.AccessKey+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "s3.secret"), []byte(s3test.SecretKey+"\n"), 0o600)
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	at := "    password_file: " + filepath.Join(dir, "alice.pass") + "\n"
	if !strings.Contains(string(data), at) {
		t.Fatalf("no alice in %s", cfg)
	}
	out := strings.Replace(string(data), at, at+"    replicate:\n"+block, 1)
	if err := os.WriteFile(cfg, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
}

// s3Replica is a replicate item for bucket "mail" of srv under prefix.
func s3Replica(srv *s3test.Server, prefix string) string {
	return fmt.Sprintf("      - s3: {endpoint: %s, bucket: mail, prefix: %s, access_key_file: s3.access, secret_key_file: s3.secret}\n",
		srv.Endpoint, prefix)
}

// TestReplicateCLI: replicate to S3 and to a directory, a rerun that
// sends nothing, verify --replica, then, with the archive gone, a restore
// from each replica into a fresh Dovecot account, compared message by
// message (content, flags, dates) with the source account.
func TestReplicateCLI(t *testing.T) {
	srv, cfg, root, want := restoreSetup(t, corpus.Options{Seed: 41, Count: 60, Big: 2 << 20})
	s3 := s3test.Start(t, "mail")
	copies := t.TempDir()
	addReplicas(t, cfg, s3Replica(s3, "work")+"      - dir: "+copies+"\n")

	r := mailkeep(t, nil, "replicate", "--config", cfg)
	if r.code != exitOK || strings.Count(r.stdout, "alice → ") != 2 || !strings.Contains(r.stdout, "alice → s3://mail/work/: ok — state of run 1, ") ||
		!strings.Contains(r.stdout, "0 already there, 0 removed, catalog sent") {
		t.Fatalf("replicate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	puts := s3.Puts(t, "work/alice/msg/")
	r = mailkeep(t, nil, "replicate", "--config", cfg, "--json", "alice")
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	for range 2 {
		var rep replicateReport
		if err := dec.Decode(&rep); err != nil || rep.Outcome != "ok" || rep.Sent != 0 || rep.CatalogSent || rep.Present != rep.Objects {
			t.Fatalf("rerun: %v %+v\n%s%s", err, rep, r.stdout, r.stderr)
		}
	}
	if n := s3.Puts(t, "work/alice/msg/"); n != puts {
		t.Fatalf("the rerun sent %d message objects", n-puts)
	}

	r = mailkeep(t, nil, "verify", "--config", cfg, "--replica", "alice")
	if r.code != exitOK || strings.Count(r.stdout, ": clean — ") != 2 {
		t.Fatalf("verify --replica: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	if err := os.Rename(root, root+".gone"); err != nil {
		t.Fatal(err)
	}
	for target, from := range map[string]string{"bob": "s3://mail/work", "carol": copies} {
		r = mailkeep(t, nil, "restore", "--config", cfg, "--account", "alice", "--to-account", target, "--from", from)
		if r.code != exitOK {
			t.Fatalf("restore --from %s: exit %d\n%s%s", from, r.code, r.stdout, r.stderr)
		}
		sameAccount(t, "restored from "+from, accountLines(t, srv.Dial(t, target)), want)
	}
}

// TestReplicateCLIErrors: clear errors, and exit codes, for wrong keys, a
// missing bucket, a stopped endpoint, a replica that is not in the
// configuration and an account without replicas. The archive is not
// touched.
func TestReplicateCLIErrors(t *testing.T) {
	_, cfg, _, _ := restoreSetup(t, corpus.Options{Seed: 42, Count: 5})
	s3 := s3test.Start(t, "mail")
	stopped := s3test.Start(t, "mail")
	stopped.Stop()
	addReplicas(t, cfg, s3Replica(s3, "ok")+
		strings.Replace(s3Replica(s3, "keys"), "secret_key_file: s3.secret", "secret_key_file: wrong.secret", 1)+
		strings.Replace(s3Replica(s3, "bucket"), "bucket: mail", "bucket: nosuch", 1)+
		s3Replica(stopped, "down"))
	os.WriteFile(filepath.Join(filepath.Dir(cfg), "wrong.secret"), []byte("not-the-secret\n"), 0o600)

	r := mailkeep(t, nil, "replicate", "--config", cfg, "alice")
	for _, want := range []string{
		"alice → s3://mail/ok/: ok — state of run 1, ",
		"alice → s3://mail/keys/: failed — " + s3.Addr + ": check bucket: access denied: the server refused the access key or secret key",
		"alice → s3://nosuch/bucket/: failed — " + s3.Addr + `: bucket "nosuch" does not exist: create it first`,
		"alice → s3://mail/down/: failed — " + stopped.Addr + ": check bucket: ",
	} {
		if r.code != exitFailure || !strings.Contains(r.stdout, want) {
			t.Errorf("want exit 1 and %q\nexit %d\n%s%s", want, r.code, r.stdout, r.stderr)
		}
	}
	if !strings.Contains(r.stdout, "connection refused") || strings.Contains(r.stdout+r.stderr, "not-the-secret") {
		t.Errorf("endpoint down, or a secret in the output:\n%s%s", r.stdout, r.stderr)
	}
	if v := mailkeep(t, nil, "verify", "--config", cfg, "alice"); v.code != exitOK {
		t.Fatalf("the archive after failed replicates: exit %d\n%s%s", v.code, v.stdout, v.stderr)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"replicate", "bob"}, exitUsage, `account "bob" has no replicate list in the configuration`},
		{[]string{"verify", "--replica", "bob"}, exitUsage, "no account has a replicate list in the configuration"},
		{[]string{"restore", "--account", "alice", "--to-account", "bob", "--from", "s3://mail/elsewhere"}, exitFailure,
			`account "alice" has no replica s3://mail/elsewhere/ in the configuration (it has s3://mail/ok/, `},
		{[]string{"restore", "--account", "alice", "--to-account", "bob", "--from", t.TempDir()}, exitFailure, "no replica there (no MANIFEST)"},
		{[]string{"verify", "--from", "/nonexistent", "alice"}, exitFailure, "replica directory: stat /nonexistent: no such file or directory"},
	} {
		r := mailkeep(t, nil, append([]string{tc.args[0], "--config", cfg}, tc.args[1:]...)...)
		if r.code != tc.code || !strings.Contains(r.stderr+r.stdout, tc.want) {
			t.Errorf("%v: want exit %d and %q\nexit %d\n%s%s", tc.args, tc.code, tc.want, r.code, r.stdout, r.stderr)
		}
	}
}
