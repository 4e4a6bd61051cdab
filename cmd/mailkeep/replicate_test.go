package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

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
// message (content, flags, dates) with the source account; an export and
// serve from a replica give the same messages.
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
	exportFromReplica(t, cfg, want)
	serveFromReplica(t, cfg, copies, want["INBOX"])
}

// hashes returns the SHA-256s (hex) of accountLines' lines, sorted.
func hashes(lines []string) []string {
	var out []string
	for _, l := range lines {
		h, _, _ := strings.Cut(l, " ")
		out = append(out, h)
	}
	slices.Sort(out)
	return out
}

// exportFromReplica exports the S3 replica as eml files: one per message,
// each the message's bytes.
func exportFromReplica(t *testing.T, cfg string, want map[string][]string) {
	t.Helper()
	dir := t.TempDir()
	r := mailkeep(t, nil, "export", "--config", cfg, "alice", "--format", "eml", "--to", dir, "--from", "s3://mail/work/", "--no-progress")
	if r.code != exitOK {
		t.Fatalf("export --from: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var got, all []string
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".eml") {
			data, _ := os.ReadFile(p)
			got = append(got, fmt.Sprintf("%x", sha256.Sum256(data)))
		}
		return nil
	})
	for _, lines := range want {
		all = append(all, hashes(lines)...)
	}
	slices.Sort(got)
	slices.Sort(all)
	if !slices.Equal(got, all) {
		t.Fatalf("export --from: %d files, want the %d messages", len(got), len(all))
	}
}

// serveFromReplica serves the directory replica and fetches INBOX.
func serveFromReplica(t *testing.T, cfg, copies string, want []string) {
	t.Helper()
	addr := freeAddr(t)
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(serveSection(t, addr))
	f.Close()
	p := startServe(t, cfg, "--from", copies, "alice")
	waitFor(t, 15*time.Second, "serve to listen", func() bool { return strings.Contains(p.stderr.String(), "serving 1 accounts") })
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice", servePassword).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{
		BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		for _, b := range m.BodySection {
			got = append(got, fmt.Sprintf("%x", sha256.Sum256(b.Bytes)))
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, hashes(want)) {
		t.Fatalf("serve --from: INBOX gave %d messages, want %d, or other bytes", len(got), len(want))
	}
	if code, _ := p.stop(t, 10*time.Second); code != exitOK {
		t.Errorf("serve exited %d after SIGTERM", code)
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
