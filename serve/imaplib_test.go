package serve_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/serve"
)

// imaplibScript browses the archive with Python's imaplib: every folder
// examined, every message fetched whole, and a SELECT that expects to be
// writable, which imaplib refuses on a READ-ONLY answer.
const imaplibScript = `
import hashlib, imaplib, json, re, sys
host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
M = imaplib.IMAP4(host, port)
M.login(user, password)
out = {"folders": {}}
typ, lines = M.list()
for line in lines:
    m = re.match(rb'\((.*?)\) "(.)" "?(.*?)"?$', line)
    attrs, name = m.group(1), m.group(3).decode()
    if b"\\Noselect" in attrs:
        continue
    typ, data = M.select('"%s"' % name, readonly=True)
    typ, nums = M.search(None, "ALL")
    sums = []
    for num in nums[0].split():
        typ, msg = M.fetch(num, "(RFC822)")
        sums.append(hashlib.sha256(msg[0][1]).hexdigest())
    out["folders"][name] = sorted(sums)
try:
    M.select("INBOX")
    out["select"] = "writable"
except M.readonly as e:
    out["select"] = "read-only"
M.select("INBOX", readonly=True)
typ, data = M.store("1", "+FLAGS", "\\Seen")
out["store"] = "accepted" if typ == "OK" else "refused"
M.logout()
json.dump(out, sys.stdout)
`

// TestPythonImaplib: an independent client browses the whole archive.
func TestPythonImaplib(t *testing.T) {
	t.Parallel()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is needed for this test:", err)
	}
	msgs := corpus.Generate(corpus.Options{Seed: 14, Count: 40})
	src := newSource(t, msgs)
	sv := startServe(t, src.root, serve.Options{Accounts: []string{src.user}})
	host, port, _ := net.SplitHostPort(sv.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "-c", imaplibScript, host, port, src.user, password).Output()
	if err != nil {
		t.Fatalf("imaplib: %v\n%s", err, stderrOf(err))
	}
	var got struct {
		Folders map[string][]string
		Select  string
		Store   string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := map[string][]string{}
	for _, m := range msgs {
		name := m.Folder
		want[name] = append(want[name], fmt.Sprintf("%x", sha256.Sum256(m.Raw)))
	}
	for name, sums := range want {
		slices.Sort(sums)
		if g := got.Folders[utf7(name)]; !slices.Equal(g, sums) {
			t.Errorf("folder %s: imaplib got %d messages, want %d (or different bytes)", name, len(g), len(sums))
		}
	}
	if got.Select != "read-only" || got.Store != "refused" {
		t.Errorf("imaplib's SELECT: %s, STORE: %s", got.Select, got.Store)
	}
}

// utf7 spells a folder name as IMAP sends it (modified UTF-7).
func utf7(name string) string {
	for plain, enc := range map[string]string{"Entwürfe": "Entw&APw-rfe", "R&D": "R&-D", "Отчёты": "&BB4EQgRHBFEEQgRL-"} {
		if name == plain {
			return enc
		}
	}
	return name
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
