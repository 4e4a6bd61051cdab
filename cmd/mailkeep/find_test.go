package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
)

// serverMessages returns BODY.PEEK[] of every message of an account by
// its SHA-256, and the folder that holds it.
func serverMessages(t *testing.T, c *imapclient.Client) (map[[32]byte][]byte, map[[32]byte]string) {
	t.Helper()
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	bodies, folders := map[[32]byte][]byte{}, map[[32]byte]string{}
	section := &imap.FetchItemBodySection{Peek: true}
	for _, l := range list {
		sel, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil || sel.NumMessages == 0 {
			continue
		}
		msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{
			BodySection: []*imap.FetchItemBodySection{section}}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			raw := m.FindBodySection(section)
			sum := sha256.Sum256(raw)
			bodies[sum], folders[sum] = raw, l.Mailbox
		}
	}
	return bodies, folders
}

// findJSON runs find --json and returns its objects.
func findJSON(t *testing.T, cfg string, args ...string) []map[string]any {
	t.Helper()
	r := mailkeep(t, nil, append([]string{"find", "--config", cfg, "--json"}, args...)...)
	if r.code != exitOK {
		t.Fatalf("find %q: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
	}
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if line == "" {
			continue
		}
		var obj map[string]any
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Fatalf("find --json line %q: %v", line, err)
		}
		out = append(out, obj)
	}
	return out
}

func ids(objs []map[string]any) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o["id"].(string))
	}
	return out
}

var idRE = regexp.MustCompile(`^[a-z0-9._-]+/[0-9a-f]{12}$`)

// TestFindShowLsRuns backs up a corpus from Dovecot with the built binary
// and reads it back through find, show, ls and runs: every archived
// message is found, and show gives back the server's BODY.PEEK[] byte for
// byte.
func TestFindShowLsRuns(t *testing.T) {
	srv, cfg, _, _ := restoreSetup(t, corpus.Options{Seed: 41, Count: 60})
	want, folders := serverMessages(t, srv.Dial(t, "alice"))

	all := findJSON(t, cfg, "alice", "", "--limit", "0")
	if len(all) != len(want) {
		t.Fatalf("find '' found %d messages, the server holds %d", len(all), len(want))
	}
	wantFields(t, "find", all[0], "id", "account", "folder", "date", "from", "subject", "message_id", "size", "gone")
	var prev time.Time
	for i, o := range all {
		if !idRE.MatchString(o["id"].(string)) || o["account"] != "alice" || o["gone"] != false {
			t.Fatalf("find: %v", o)
		}
		date, err := time.Parse(time.RFC3339, o["date"].(string))
		if err != nil || i > 0 && date.After(prev) {
			t.Errorf("not newest first: %v after %v (%v)", date, prev, err)
		}
		prev = date
	}
	// show gives back every message exactly as the server serves it.
	for _, o := range all {
		r := mailkeep(t, nil, "show", "--config", cfg, o["id"].(string))
		sum := sha256.Sum256([]byte(r.stdout))
		if r.code != exitOK || want[sum] == nil {
			t.Fatalf("show %s: exit %d, %d bytes that the server does not hold\n%s", o["id"], r.code, len(r.stdout), r.stderr)
		}
		if folders[sum] != o["folder"] {
			t.Errorf("%s: find says folder %v, the server holds it in %q", o["id"], o["folder"], folders[sum])
		}
	}

	t.Run("find", func(t *testing.T) { checkFind(t, cfg) })
	t.Run("show", func(t *testing.T) { checkShow(t, cfg) })
	t.Run("ls", func(t *testing.T) { checkLs(t, cfg, len(want)) })
	t.Run("runs", func(t *testing.T) { checkRuns(t, cfg) })
}

func checkFind(t *testing.T, cfg string) {
	hits := findJSON(t, cfg, `subject:"lines that begin with dots"`)
	if len(hits) != 1 || hits[0]["subject"] != "Lines that begin with dots" || hits[0]["folder"] != "INBOX" {
		t.Fatalf("subject: %v", hits)
	}
	if got := findJSON(t, cfg, "alice", "message-id:"+hits[0]["message_id"].(string)); !slices.Equal(ids(got), ids(hits)) {
		t.Errorf("message-id: %v, want %v", ids(got), ids(hits))
	}
	if got := findJSON(t, cfg, "alice", "--limit", "3", ""); len(got) != 3 {
		t.Errorf("--limit 3: %d lines", len(got))
	}
	// Plain output: one line per match, the id last.
	r := mailkeep(t, nil, "find", "--config", cfg, "alice", `subject:"lines that begin with dots" OR subject:"a line of 10,000 bytes"`)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != exitOK || len(lines) != 2 {
		t.Fatalf("plain output: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, l := range lines {
		f := strings.Fields(l)
		if !idRE.MatchString(f[len(f)-1]) || !strings.Contains(l, " alice ") || !strings.Contains(l, "INBOX") {
			t.Errorf("line %q", l)
		}
	}
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     bool
		wantStderr string
	}{
		{"no match", []string{"alice", "zebra-that-is-nowhere"}, exitOK, false, "no message matches"},
		{"bad query", []string{"alice", "form:alice invoice"}, exitUsage, false, `bad query term "form:alice"`},
		{"bad date", []string{"after:yesterday"}, exitUsage, false, `"after:yesterday"`},
		{"unquoted query", []string{"from:alice", "invoice"}, exitUsage, false, "find takes one query: quote it"},
		{"unknown account", []string{"nobody", "invoice"}, exitUsage, false, `no account "nobody"`},
		{"account without archive", []string{"carol", "dots"}, exitUsage, false, "carol: not searched: no archive yet"},
		{"every account", []string{"dots"}, exitOK, true, "carol: not searched: no archive yet"},
		{"as of a run", []string{"alice", "--as-of", "1", "dots"}, exitOK, true, ""},
		{"as of no run", []string{"alice", "--as-of", "2001-01-01", "dots"}, exitUsage, false, "no such backup run"},
		{"bad as-of", []string{"--as-of", "soon", "dots"}, exitUsage, false, `--as-of "soon"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mailkeep(t, nil, append([]string{"find", "--config", cfg}, tc.args...)...)
			if r.code != tc.code || (r.stdout != "") != tc.stdout || !strings.Contains(r.stderr, tc.wantStderr) {
				t.Fatalf("exit %d, want %d, stdout %v, stderr with %q\nstdout: %s\nstderr: %s",
					r.code, tc.code, tc.stdout, tc.wantStderr, r.stdout, r.stderr)
			}
		})
	}
}

func checkShow(t *testing.T, cfg string) {
	hit := findJSON(t, cfg, `subject:"lines that begin with dots"`)[0]
	id := hit["id"].(string)
	raw := mailkeep(t, nil, "show", "--config", cfg, id).stdout
	r := mailkeep(t, nil, "show", "--config", cfg, "--headers", id)
	if r.code != exitOK || !strings.HasPrefix(raw, r.stdout) || !strings.HasSuffix(r.stdout, "\r\n\r\n") {
		t.Errorf("--headers: exit %d, %q is not the header of the message", r.code, r.stdout)
	}
	r = mailkeep(t, nil, "show", "--config", cfg, "--text", id[:len("alice/")+8])
	if r.code != exitOK || !strings.Contains(r.stdout, "Subject: Lines that begin with dots\n") ||
		!strings.Contains(r.stdout, "a line in between") || strings.Contains(r.stdout, "\r") {
		t.Errorf("--text by an 8-digit prefix: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Raw UTF-8 in a header, found without its accents, decoded for a terminal.
	utf8 := findJSON(t, cfg, "alice", "from:jurgen subject:koln")
	if len(utf8) != 1 {
		t.Fatalf("from:jurgen subject:koln: %v", utf8)
	}
	r = mailkeep(t, nil, "show", "--config", cfg, "--text", utf8[0]["id"].(string))
	if r.code != exitOK || !strings.Contains(r.stdout, "From: Jürgen Müller <juergen@example.de>\n") ||
		!strings.Contains(r.stdout, "Subject: Grüße aus Köln – отчёт за март 📎\n") {
		t.Errorf("--text of a raw UTF-8 header: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"alice"}, "want ACCOUNT/ID"},
		{[]string{"nobody/0123456789ab"}, `no account "nobody"`},
		{[]string{"alice/0123"}, "8 to 12 hex digits"},
		{[]string{"alice/zzzzzzzzzzzz"}, "8 to 12 hex digits"},
		{[]string{"alice/000000000000"}, "no message has this id"},
		{[]string{"--headers", "--text", id}, "choose one"},
	} {
		r := mailkeep(t, nil, append([]string{"show", "--config", cfg}, tc.args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("show %q: exit %d, want 2 and %q\n%s%s", tc.args, r.code, tc.want, r.stdout, r.stderr)
		}
	}
}

func checkLs(t *testing.T, cfg string, n int) {
	r := mailkeep(t, nil, "ls", "--config", cfg)
	if r.code != exitOK || !regexp.MustCompile(`(?m)^alice +INBOX +\d+ +0 `).MatchString(r.stdout) ||
		!strings.Contains(r.stdout, fmt.Sprintf("alice: 8 folders, %d messages (0 gone)", n)) ||
		!strings.Contains(r.stdout, "search index ") || !strings.Contains(r.stdout, "× the messages on disk") ||
		!strings.Contains(r.stdout, "carol: ") {
		t.Errorf("ls: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = mailkeep(t, nil, "ls", "--config", cfg, "alice", "inbox")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != exitOK || !strings.HasPrefix(lines[0], "DATE ") || !strings.Contains(r.stdout, "Lines that begin with dots") {
		t.Fatalf("ls alice inbox: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, l := range lines[1:] {
		if f := strings.Fields(l); !idRE.MatchString(f[len(f)-1]) {
			t.Errorf("ls line without an id last: %q", l)
		}
	}
	// Read two messages at a time, the folder prints the same.
	defer func(n int) { lsBatch = n }(lsBatch)
	lsBatch = 2
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"ls", "--config", cfg, "alice", "inbox"}, &out, &errb); code != exitOK || out.String() != r.stdout {
		t.Errorf("ls alice inbox two messages at a time: exit %d, output differs:\n%s\nwant\n%s%s", code, out.String(), r.stdout, errb.String())
	}
	if r := mailkeep(t, nil, "ls", "--config", cfg, "alice", "Nope"); r.code != exitUsage || !strings.Contains(r.stderr, `no folder "Nope"`) {
		t.Errorf("ls of an unknown folder: exit %d\n%s", r.code, r.stderr)
	}
}

func checkRuns(t *testing.T, cfg string) {
	r := mailkeep(t, nil, "runs", "--config", cfg, "alice")
	if r.code != exitOK || !regexp.MustCompile(`(?m)^1 +\d{4}-\d\d-\d\d [0-9:]+ +[0-9.]+m?s +imap +ok +\d+ +0 +0 `).MatchString(r.stdout) {
		t.Errorf("runs: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = mailkeep(t, nil, "runs", "--config", cfg, "alice", "--json")
	objs := jsonLines(t, r.stdout, 1)
	wantFields(t, "runs", objs[0], "run", "kind", "started", "ended", "duration_seconds", "outcome", "new_messages",
		"flag_updates", "gone", "new_bytes", "errors")
	if r := mailkeep(t, nil, "runs", "--config", cfg, "carol"); r.code != exitOK || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("runs of an account without archive: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestIndexLagAndRestoreByID: an index that a crash left behind the
// catalog is caught up by the next backup and by mailkeep index; find
// sees what the server deleted, as of the runs; restore --id puts back
// exactly the messages named.
func TestIndexLagAndRestoreByID(t *testing.T) {
	srv, cfg, root, _ := restoreSetup(t, corpus.Options{Seed: 42, Count: 30})
	dir := filepath.Join(root, "alice")
	saved := t.TempDir()
	copyIndex(t, dir, saved) // the index as the first run left it

	more := corpus.More(corpus.Options{Seed: 42, Count: 30}, 5, 0)
	if err := corpus.Load(t.Context(), srv.Dial(t, "alice"), more); err != nil {
		t.Fatal(err)
	}
	backup := func() {
		t.Helper()
		if r := mailkeep(t, nil, "backup", "--config", cfg, "alice"); r.code != exitOK {
			t.Fatalf("backup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	}
	backup()
	newest := findJSON(t, cfg, "alice", "", "--limit", "0")
	// A power loss that takes the index's last commits: put back the old one.
	copyIndex(t, saved, dir)
	r := mailkeep(t, nil, "find", "--config", cfg, "alice", "")
	if !strings.Contains(r.stderr, "the search index lacks the 5 messages archived last") {
		t.Errorf("find with a lagging index says nothing of it:\n%s", r.stderr)
	}
	backup() // nothing new on the server: the run catches the index up
	if got := findJSON(t, cfg, "alice", "", "--limit", "0"); len(got) != len(newest) {
		t.Errorf("after the next backup: %d messages found, want %d", len(got), len(newest))
	}
	copyIndex(t, saved, dir)
	r = mailkeep(t, nil, "index", "--config", cfg, "alice")
	if r.code != exitOK || !strings.Contains(r.stdout, "alice: index caught up — 5 messages indexed") {
		t.Errorf("index: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = mailkeep(t, nil, "index", "--config", cfg, "--rebuild", "alice")
	if r.code != exitOK || !strings.Contains(r.stdout, fmt.Sprintf("alice: index rebuilt — %d messages indexed", len(newest))) {
		t.Errorf("index --rebuild: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Delete the dots message on the server; the next run records it gone.
	dots := findJSON(t, cfg, "alice", `subject:"lines that begin with dots"`)[0]
	c := srv.Dial(t, "alice")
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	uids, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{
		{Key: "Subject", Value: "Lines that begin with dots"}}}, nil).Wait()
	if err != nil || len(uids.AllUIDs()) != 1 {
		t.Fatalf("search on the server: %v, %v", uids, err)
	}
	if err := c.Store(imap.UIDSetNum(uids.AllUIDs()...), &imap.StoreFlags{Op: imap.StoreFlagsAdd,
		Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	backup()
	if got := findJSON(t, cfg, "alice", "gone:yes"); !slices.Equal(ids(got), []string{dots["id"].(string)}) || got[0]["gone"] != true {
		t.Errorf("gone:yes: %v", got)
	}
	if got := findJSON(t, cfg, "alice", "--as-of", "1", "dots"); !slices.Contains(ids(got), dots["id"].(string)) {
		t.Errorf("--as-of 1 does not find the message deleted later: %v", ids(got))
	}
	if got := findJSON(t, cfg, "alice", "--as-of", "4", `subject:"lines that begin with dots"`); len(got) != 0 {
		t.Errorf("--as-of 4 finds the message deleted by run 4: %v", ids(got))
	}

	// restore --id puts back exactly the messages named, gone ones too.
	other := findJSON(t, cfg, "alice", "folder:Archive/2024", "--limit", "1")[0]
	r = mailkeep(t, nil, "restore", "--config", cfg, "--to-account", "carol", "--no-progress",
		"--id", dots["id"].(string), "--id", other["id"].(string))
	if r.code != exitOK || !strings.Contains(r.stdout, "2 messages appended") {
		t.Fatalf("restore --id: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	got := accountLines(t, srv.Dial(t, "carol"))
	total := 0
	for _, l := range got {
		total += len(l)
	}
	if len(got["INBOX"]) != 1 || len(got["Archive/2024"]) != 1 || total != 2 {
		t.Errorf("carol after restore --id: %v", got)
	}
	// export --id writes exactly the messages named, gone ones too.
	out := t.TempDir()
	r = mailkeep(t, nil, "export", "--config", cfg, "--format", "eml", "--to", out, "--no-progress",
		"--id", dots["id"].(string), "--id", other["id"].(string))
	if r.code != exitOK || !strings.Contains(r.stdout, "2 folders, 2 messages") {
		t.Fatalf("export --id: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	emls, _ := filepath.Glob(filepath.Join(out, "*", "*.eml"))
	deeper, _ := filepath.Glob(filepath.Join(out, "*", "*", "*.eml"))
	if emls = append(emls, deeper...); len(emls) != 2 {
		t.Fatalf("export --id wrote %v", emls)
	}
	for _, id := range []string{dots["id"].(string), other["id"].(string)} {
		shown := mailkeep(t, nil, "show", "--config", cfg, id).stdout
		if !slices.ContainsFunc(emls, func(p string) bool { data, _ := os.ReadFile(p); return string(data) == shown }) {
			t.Errorf("export --id: no file holds %s as show prints it", id)
		}
	}
	if r := mailkeep(t, nil, "export", "--config", cfg, "--format", "eml", "--to", out, "bob", "--id", dots["id"].(string)); r.code != exitUsage ||
		!strings.Contains(r.stderr, "is not a message of account bob") {
		t.Errorf("export --id of another account: exit %d\n%s", r.code, r.stderr)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--id", "alice/000000000000", "--to-account", "carol"}, "no message has this id"},
		{[]string{"--id", dots["id"].(string), "--folder", "INBOX"}, "--id and --folder: choose one"},
		{[]string{"--account", "bob", "--id", dots["id"].(string)}, "is not a message of account bob"},
	} {
		r := mailkeep(t, nil, append([]string{"restore", "--config", cfg}, tc.args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("restore %q: exit %d, want 2 and %q\n%s%s", tc.args, r.code, tc.want, r.stdout, r.stderr)
		}
	}
}

// copyIndex copies index.db and its WAL files from one directory to another.
func copyIndex(t *testing.T, from, to string) {
	t.Helper()
	for _, f := range []string{"index.db", "index.db-wal", "index.db-shm"} {
		data, err := os.ReadFile(filepath.Join(from, f))
		if os.IsNotExist(err) {
			os.Remove(filepath.Join(to, f))
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestIndexOffAndPOP3: an account with index: false gets no index, find
// says so, and show and ls still work; a POP3 account is indexed and its
// messages show as POP3 delivered them.
func TestIndexOffAndPOP3(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	if err := corpus.Load(t.Context(), srv.Dial(t, "alice"), corpus.Generate(corpus.Options{Seed: 43, Count: 10})); err != nil {
		t.Fatal(err)
	}
	if err := corpus.Load(t.Context(), srv.Dial(t, "bob"), corpus.Generate(corpus.Options{Seed: 44, Count: 10,
		Folders: []string{"INBOX"}})); err != nil {
		t.Fatal(err)
	}
	host, pport, _ := strings.Cut(srv.POP3Addr, ":")
	extra := fmt.Sprintf("    index: false\n  - {name: pop, protocol: pop3, host: %s, port: %s, tls: none, username: bob, password_env: MK_BOB}\n",
		host, pport)
	cfg, root := writeConfig(t, srv, srv.Password("alice"), extra)
	env := []string{"MK_BOB=" + srv.Password("bob")}
	if r := mailkeep(t, env, "backup", "--config", cfg); r.code != exitOK {
		t.Fatalf("backup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(root, "alice", "index.db")); !os.IsNotExist(err) {
		t.Errorf("index: false, yet index.db: %v", err)
	}
	r := mailkeep(t, env, "find", "--config", cfg, "alice", "dots")
	if r.code != exitUsage || !strings.Contains(r.stderr, "alice: not searched: its index is off (index: false)") {
		t.Errorf("find in an account with the index off: exit %d\n%s", r.code, r.stderr)
	}
	r = mailkeep(t, env, "find", "--config", cfg, "--json", `subject:"lines that begin with dots"`)
	if r.code != exitOK || !strings.Contains(r.stderr, "alice: not searched") || strings.Count(r.stdout, "\n") != 1 ||
		!strings.Contains(r.stdout, `"account":"pop"`) {
		t.Fatalf("find in every account: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// show without an index: the id resolves through the catalog.
	r = mailkeep(t, env, "ls", "--config", cfg, "alice", "INBOX")
	if r.code != exitOK || !strings.Contains(r.stdout, "Lines that begin with dots") {
		t.Fatalf("ls without an index: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var id string
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.Contains(l, "Lines that begin with dots") {
			f := strings.Fields(l)
			id = f[len(f)-1]
		}
	}
	want, _ := serverMessages(t, srv.Dial(t, "alice"))
	if r := mailkeep(t, env, "show", "--config", cfg, id); r.code != exitOK || want[sha256.Sum256([]byte(r.stdout))] == nil {
		t.Errorf("show %s without an index: exit %d\n%s", id, r.code, r.stderr)
	}
	if r := mailkeep(t, env, "ls", "--config", cfg); !strings.Contains(r.stdout, "search index off") {
		t.Errorf("ls does not say the index is off:\n%s", r.stdout)
	}
	if r := mailkeep(t, env, "index", "--config", cfg, "alice"); r.code != exitOK || !strings.Contains(r.stdout, "alice: skipped — its index is off") {
		t.Errorf("index of an account with the index off: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// POP3: every message found and shown as POP3 delivered it.
	bob, _ := serverMessages(t, srv.Dial(t, "bob"))
	pop := findJSON(t, cfg, "pop", "", "--limit", "0")
	if len(pop) != len(bob) {
		t.Fatalf("pop: %d found, %d on the server", len(pop), len(bob))
	}
	for _, o := range pop {
		r := mailkeep(t, env, "show", "--config", cfg, o["id"].(string))
		body := r.stdout
		if _, ok := bob[sha256.Sum256([]byte(body))]; !ok {
			// POP3 cannot carry a last line without its line end.
			if _, ok := bob[sha256.Sum256([]byte(strings.TrimSuffix(body, "\r\n")))]; !ok || r.code != exitOK {
				t.Errorf("show %s: exit %d, not a message of the server", o["id"], r.code)
			}
		}
	}
}
