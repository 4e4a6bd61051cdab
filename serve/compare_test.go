package serve_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
	"github.com/mailkeep/mailkeep/serve"
)

// TestScriptMatchesDovecot replays one IMAP command script against serve
// and against Dovecot serving the same archive (with the archive's UIDs,
// from dovecot-uidlist files written into its copy) and compares the
// responses. What may differ, and why:
//   - capabilities, the text of status responses, and informational
//     response codes ([HIGHESTMODSEQ], [CLOSED], [CLIENTBUG]);
//   - \Recent, which serve never sets, and RECENT counts;
//   - child attributes in an extended LIST that does not ask for them
//     (RFC 5258 lets a server send them): the script asks;
//   - special-use attributes (Dovecot's test config gives Sent one; the
//     archive does not record them) and \Subscribed (serve counts every
//     folder subscribed; this Dovecot has no subscriptions);
//   - the mailkeep/Gone folder, which only serve has;
//   - spelling: quoted or literal strings, atom or string, the case of
//     types and header names, the order of FETCH items, parameters and
//     untagged responses; dates are compared as instants;
//   - in ENVELOPE, the subject and names are compared decoded: go-imap
//     writes them MIME-encoded where Dovecot sends raw 8-bit text;
//   - BODYSTRUCTURE's MD5, which go-imap always writes as NIL.
func TestScriptMatchesDovecot(t *testing.T) {
	t.Parallel()
	msgs := corpus.Generate(corpus.Options{Seed: 11, Count: 60})
	src := newSource(t, msgs)
	dc := dovecottest.ServeArchive(t, withUIDLists(t, src.root, src.user))
	sv := startServe(t, src.root, serve.Options{Accounts: []string{src.user}})
	d := loginRaw(t, dc.IMAPAddr, dovecottest.ArchiveUser, dc.Password(dovecottest.ArchiveUser))
	s := loginRaw(t, sv.addr, src.user, password)

	compared, commands := 0, 0
	run := func(cmd string) []string {
		t.Helper()
		commands++
		ud, sd := d.do(cmd)
		us, ss := s.do(cmd)
		sel := strings.HasPrefix(cmd, "EXAMINE ")
		want, got := canonicalAll(t, ud, false, sel), canonicalAll(t, us, true, sel)
		if !slices.Equal(got, want) {
			t.Errorf("%s:\n%s", cmd, diffLines(got, want))
		}
		compared += len(want)
		if status(sd) != status(ss) {
			t.Errorf("%s: serve answered %q, Dovecot %q", cmd, ss, sd)
		}
		return got
	}
	for _, cmd := range []string{`LIST "" ""`, `LIST "" "*"`, `LIST "" "%"`, `LIST "" "Archive/%"`,
		`LIST "" "*2024"`, `LIST "Archive/" "*"`, `LIST "" ("INBOX" "Sent") RETURN (CHILDREN)`, `LIST "" "nothing*"`,
		`LIST "" "*" RETURN (CHILDREN STATUS (MESSAGES UNSEEN UIDNEXT UIDVALIDITY SIZE))`, `NAMESPACE`} {
		run(cmd)
	}
	for _, folder := range folderNames(t, s) {
		run(`STATUS ` + quote(folder) + ` (MESSAGES UIDNEXT UIDVALIDITY UNSEEN SIZE)`)
		exists := run(`EXAMINE ` + quote(folder))
		if !slices.ContainsFunc(exists, func(l string) bool { return strings.HasSuffix(l, " EXISTS") && l != "0 EXISTS" }) {
			continue
		}
		for _, cmd := range fetchScript(folder == "INBOX") {
			run(cmd)
		}
		for _, cmd := range searchScript {
			run(cmd)
		}
	}
	run(`UNSELECT`)
	t.Logf("%d commands, %d responses compared", commands, compared)
	if compared < 1000 {
		t.Errorf("only %d responses compared", compared)
	}
}

func status(s string) string {
	word, rest, _ := strings.Cut(s, " ")
	if strings.HasPrefix(rest, "[READ-ONLY]") || strings.HasPrefix(rest, "[READ-WRITE]") {
		return word + " " + rest[:strings.IndexByte(rest, ']')+1]
	}
	return word
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

// fetchScript fetches every item, and every kind of section and partial.
func fetchScript(all bool) []string {
	cmds := []string{
		`FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE)`,
		`FETCH 1:* (BODY)`, `FETCH 1:* FAST`, `FETCH 1:* ALL`, `FETCH 1:* FULL`,
		`UID FETCH 1:* (FLAGS)`, `UID FETCH *:3 (RFC822.SIZE)`, `FETCH 2,4:5,* (UID)`,
		`FETCH 1:* (BODY.PEEK[HEADER] BODY.PEEK[TEXT])`,
		`FETCH 1:* (BODY.PEEK[HEADER.FIELDS (From To Cc Subject Date Message-ID In-Reply-To Content-Type)])`,
		`FETCH 1:* (BODY.PEEK[HEADER.FIELDS.NOT (Date Received)] RFC822.HEADER)`,
		`FETCH 1:* (BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[2] BODY.PEEK[2.MIME] BODY.PEEK[3])`,
		`FETCH 1:* (BODY.PEEK[1.1] BODY.PEEK[2.1] BODY.PEEK[1.HEADER] BODY.PEEK[1.TEXT])`,
		`FETCH 1:* (BODY.PEEK[]<0.100> BODY.PEEK[]<50.7> BODY.PEEK[TEXT]<10.300> BODY.PEEK[1]<0.64>)`,
		`FETCH 1:* (BODY.PEEK[HEADER]<5.20> BODY.PEEK[HEADER.FIELDS (Subject)]<3.5> BODY.PEEK[]<100000000.5>)`,
		`UID FETCH 1:* (BODY.PEEK[]<0.0>)`,
	}
	if all {
		cmds = append(cmds, `FETCH 1:* (BODY.PEEK[])`, `FETCH 1:5 (RFC822)`, `UID FETCH 1:* (RFC822.TEXT)`)
	}
	return cmds
}

var searchScript = []string{
	`SEARCH ALL`, `SEARCH SEEN`, `SEARCH UNSEEN`, `SEARCH FLAGGED`, `SEARCH ANSWERED`, `SEARCH DRAFT`,
	`SEARCH DELETED`, `SEARCH NEW`, `SEARCH OLD`, `SEARCH RECENT`,
	`SEARCH KEYWORD $Label1`, `SEARCH UNKEYWORD Projekt-X`, `SEARCH KEYWORD $Forwarded`,
	`SEARCH LARGER 20000`, `SEARCH SMALLER 5000`, `SEARCH LARGER 3000 SMALLER 9000`,
	`SEARCH FROM "alice"`, `SEARCH FROM "example.com"`, `SEARCH TO "bob"`, `SEARCH CC "carol"`,
	`SEARCH SUBJECT "re:"`, `SEARCH SUBJECT "attachment"`, `SEARCH HEADER Message-ID "corpus.mailkeep.test"`,
	`SEARCH HEADER In-Reply-To ""`, `SEARCH HEADER X-Nothing ""`, `SEARCH HEADER MIME-Version "1.0"`,
	`SEARCH BODY "attachment"`, `SEARCH BODY "leading dot"`, `SEARCH TEXT "multipart"`, `SEARCH TEXT "Corpus Generator"`,
	`SEARCH BODY "the"`, `SEARCH NOT BODY "the"`, `SEARCH BODY "zzzz-nowhere"`,
	`SEARCH SINCE 1-Jan-2020`, `SEARCH BEFORE 1-Jan-2019`, `SEARCH ON 3-Dec-2023`,
	`SEARCH SENTSINCE 1-Jan-2021`, `SEARCH SENTBEFORE 1-Jan-2018`,
	`SEARCH OR FLAGGED KEYWORD $Label1`, `SEARCH NOT SEEN`, `SEARCH OR (SEEN FLAGGED) (LARGER 50000)`,
	`SEARCH 2:5 SEEN`, `SEARCH *`, `SEARCH UID 1:3,7`, `UID SEARCH UNSEEN`, `UID SEARCH 1:*`,
	`SEARCH RETURN (MIN MAX COUNT) SEEN`, `SEARCH RETURN (ALL) UNSEEN`, `UID SEARCH RETURN (COUNT) ALL`,
	`SEARCH CHARSET UTF-8 ALL`, utf8Search("BODY", "köln"), utf8Search("TEXT", "müller"), utf8Search("SUBJECT", "grü"),
}

// utf8Search is a SEARCH for a UTF-8 string, sent as a literal.
func utf8Search(key, s string) string {
	return fmt.Sprintf("SEARCH CHARSET UTF-8 %s {%d+}\r\n%s", key, len(s), s)
}

// canonicalAll gives the responses in a neutral form, sorted; serve's
// own folders (mailkeep/...) left out, and the mailbox's flags unless the
// command selects (Dovecot announces a keyword anew when a SEARCH names
// it).
func canonicalAll(t *testing.T, resps []string, serve, selects bool) []string {
	t.Helper()
	var out []string
	for _, r := range resps {
		c, err := canonical(r)
		if err != nil {
			t.Fatal(err)
		}
		if c == "" || serve && ownFolder(c) || !selects && (strings.HasPrefix(c, "FLAGS ") || c == "OK [PERMANENTFLAGS]") {
			continue
		}
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

func ownFolder(c string) bool {
	for _, p := range []string{`" mailkeep`, `STATUS mailkeep`} {
		if strings.Contains(c, p) {
			return true
		}
	}
	return false
}

// folderNames lists the folders a raw client sees, as sent (modified UTF-7).
func folderNames(t *testing.T, r *raw) []string {
	t.Helper()
	list, _ := r.do(`LIST "" "*"`)
	var names []string
	for _, l := range list {
		data, err := parseData(strings.TrimPrefix(l, "* "))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(data[1].list, func(a node) bool { return strings.EqualFold(a.atom, `\Noselect`) }) &&
			!strings.HasPrefix(data[3].text(), "mailkeep") {
			names = append(names, data[3].text())
		}
	}
	slices.Sort(names)
	return names
}

func diffLines(got, want []string) string {
	var b strings.Builder
	for _, g := range got {
		if !slices.Contains(want, g) {
			fmt.Fprintf(&b, "  serve only:   %s\n", cut(g))
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			fmt.Fprintf(&b, "  Dovecot only: %s\n", cut(w))
		}
	}
	if b.Len() == 0 {
		return fmt.Sprintf("  serve %d responses, Dovecot %d\n", len(got), len(want))
	}
	return b.String()
}

func cut(s string) string {
	if len(s) > 600 {
		return s[:600] + "…"
	}
	return s
}

// withUIDLists copies an account's mail tree (with modification times)
// and writes into each folder a dovecot-uidlist with the archive's
// UIDVALIDITY, UIDNEXT and UIDs, so that a Dovecot serving the copy
// numbers the messages as the archive does.
func withUIDLists(t testing.TB, root, account string) string {
	t.Helper()
	ctx := context.Background()
	src := filepath.Join(root, account, "mail")
	dst := filepath.Join(t.TempDir(), "mail")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		return os.Chtimes(filepath.Join(dst, rel), info.ModTime(), info.ModTime())
	})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := archive.OpenSnapshot(ctx, root, account)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	folders, err := snap.Folders(ctx, archive.View{Gone: archive.GoneToo})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range folders {
		writeUIDList(t, snap, f, filepath.Join(dst, filepath.FromSlash(f.Dir), archive.MaildirLevel))
	}
	return dst
}

func writeUIDList(t testing.TB, snap *archive.Snapshot, f archive.ViewFolder, dir string) {
	t.Helper()
	msgs, err := snap.Messages(context.Background(), f.ID, archive.View{Gone: archive.GoneToo})
	if err != nil {
		t.Fatal(err)
	}
	next := f.UIDNext
	var b strings.Builder
	for _, m := range msgs {
		base, _, _ := strings.Cut(m.File, ":2,")
		fmt.Fprintf(&b, "%d :%s\n", m.UID, base)
		next = max(next, m.UID+1)
	}
	guid := make([]byte, 16)
	rand.Read(guid)
	head := fmt.Sprintf("3 V%d N%d G%x\n", f.UIDValidity, next, guid)
	if err := os.WriteFile(filepath.Join(dir, "dovecot-uidlist"), []byte(head+b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
