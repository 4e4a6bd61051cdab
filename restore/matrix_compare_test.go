package restore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/internal/servertest"
	"github.com/mailkeep/mailkeep/restore"
)

// restoreRun is one restore of the matrix: its result and the commands it
// sent.
type restoreRun struct {
	res  restore.Result
	err  error
	cmds string
}

// restoreVia restores root/<account> into user's account of dst through
// the recording proxy rec.
func restoreVia(t *testing.T, rec *servertest.CommandLog, root, account string, dst mserver, user string) restoreRun {
	t.Helper()
	res, err := restore.Run(t.Context(), root, account, restore.Options{Dial: dialer(rec.Addr, user, dst.password(user))})
	t.Logf("restore into %s: appended %d, skipped %d, failed %d, created %d folders, %v; err %v",
		dst.name, res.Appended, res.Skipped, res.Failed, res.Created, res.Duration.Round(time.Millisecond), err)
	if err != nil && !errors.Is(err, restore.ErrPartial) {
		t.Fatalf("restore: %v", err)
	}
	return restoreRun{res, err, rec.Take()}
}

// Outcomes of a folder that is not restored under the name the plain
// rules give.
const (
	mappingError  = "mapping error: a --map suggested" // refused before CREATE
	createRefused = "CREATE refused: a --map suggested"
)

// Outcomes of a message.
const (
	crlfAdded  = "served with CRLF added at the end"
	munged     = "8-bit bytes in the header served as X"
	kept       = "kept"
	refused    = "refused"
	crlf       = "served with CRLF"
	appendTime = "served as the time of the APPEND"
)

// compareRestored compares the target with the archive, folder by folder
// through the restore's mapping: every message of the archive must be on
// the target with the same bytes, flags and keywords, and INTERNALDATE
// (the same instant), and nothing else. It returns what became of each
// folder (by its name without the source's prefix, "/" separating
// levels: the target name, or mappingError or createRefused) and of each
// edge message (kept, refused, or what the target changed). Ordinary
// messages must be kept.
func compareRestored(t *testing.T, root, account string, res restore.Result, c *imapclient.Client) (map[string]string, map[string]string) {
	t.Helper()
	ctx := context.Background()
	snap, err := archive.OpenSnapshot(ctx, root, account)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	folders, err := snap.Folders(ctx, archive.View{})
	if err != nil {
		t.Fatal(err)
	}
	byFolder, byMessage := map[string]string{}, map[string]string{}
	failed := 0
	for _, f := range folders {
		rel := relName(f, res.Mapping.SourcePrefix)
		fm := mappingOf(t, res.Mapping, f.Name)
		outcome, ok := folderOutcome(t, fm, res.Failures)
		byFolder[rel] = outcome
		if !ok {
			failed += f.Count
			continue
		}
		failed += compareFolder(t, snap, f, fm.Target, fetchFolder(t, c, fm.Target), byMessage)
	}
	if failed != res.Failed {
		t.Errorf("%d messages not restored, the restore says %d", failed, res.Failed)
	}
	return byFolder, byMessage
}

func relName(f archive.ViewFolder, prefix string) string {
	name := f.Name
	if prefix != "" && strings.HasPrefix(name, prefix) {
		name = name[len(prefix):]
	}
	if f.Delim != "" {
		name = strings.ReplaceAll(name, f.Delim, "/")
	}
	return name
}

func mappingOf(t *testing.T, m restore.Mapping, name string) restore.FolderMapping {
	t.Helper()
	for _, fm := range m.Folders {
		if fm.Source == name {
			return fm
		}
	}
	t.Fatalf("folder %q is not in the mapping", name)
	return restore.FolderMapping{}
}

// folderOutcome says where the folder went, or why it could not be
// restored; ok is false then. Either way the error must suggest a --map.
func folderOutcome(t *testing.T, fm restore.FolderMapping, failures []error) (string, bool) {
	t.Helper()
	if fm.Err != nil {
		if !errors.Is(fm.Err, restore.ErrFolderName) || !strings.Contains(fm.Err.Error(), "--map '") {
			t.Errorf("folder %q: %v, want an error with a --map", fm.Source, fm.Err)
		}
		t.Logf("folder %q: %v", fm.Source, fm.Err)
		return mappingError, false
	}
	for _, err := range failures {
		if strings.Contains(err.Error(), fmt.Sprintf("create %q", fm.Target)) {
			if !strings.Contains(err.Error(), "--map '") {
				t.Errorf("folder %q: %v, want a --map suggested", fm.Source, err)
			}
			t.Logf("folder %q: %v", fm.Source, err)
			return createRefused, false
		}
	}
	return fm.Target, true
}

// served is a message as the target or the archive has it.
type served struct {
	raw   []byte
	flags []string
	date  time.Time
	used  bool
}

func fetchFolder(t *testing.T, c *imapclient.Client, name string) []*served {
	t.Helper()
	sel, err := c.Select(name, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("examine %q: %v", name, err)
	}
	if sel.NumMessages == 0 {
		return nil
	}
	opts := &imap.FetchOptions{Flags: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}
	msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, opts).Collect()
	if err != nil {
		t.Fatalf("fetch %q: %v", name, err)
	}
	var out []*served
	for _, m := range msgs {
		var flags []string
		for _, f := range m.Flags {
			if f != `\Recent` {
				flags = append(flags, string(f))
			}
		}
		slices.Sort(flags)
		out = append(out, &served{raw: m.FindBodySection(&imap.FetchItemBodySection{}), flags: flags, date: m.InternalDate})
	}
	return out
}

// compareFolder matches the archive folder's messages with the target's
// and returns how many are missing. Edge messages (X-Case) get their
// outcome in byMessage, and so do the corpus's special messages the target
// changed; every other message must be kept.
func compareFolder(t *testing.T, snap *archive.Snapshot, f archive.ViewFolder, target string, got []*served, byMessage map[string]string) int {
	t.Helper()
	af, err := snap.Folder(f.FolderState)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := snap.Messages(context.Background(), f.ID, archive.View{})
	if err != nil {
		t.Fatal(err)
	}
	msgs := make([][]byte, len(rows))
	for i, m := range rows {
		msgs[i] = readMessage(t, af, m)
	}
	outcomes := make([]string, len(rows))
	// Unchanged messages first: a changed one is then paired by identity
	// with what is left.
	for i, m := range rows {
		outcomes[i] = matchBytes(msgs[i], m.Flags, m.InternalDate, got)
	}
	missing := 0
	for i, m := range rows {
		if outcomes[i] == refused {
			outcomes[i] = matchIdentity(msgs[i], m.Flags, m.InternalDate, got)
		}
		if outcomes[i] == refused {
			missing++
		}
		if rest, ok := cutChange(outcomes[i], lowerKeywords); ok { // of the target, not of a message
			byMessage["keywords"], outcomes[i] = lowerKeywords, rest
		}
		key, edge := caseOf(msgs[i])
		switch {
		case edge || key != "" && outcomes[i] != kept:
			byMessage[key] = outcomes[i]
		case outcomes[i] != kept:
			t.Errorf("%q → %q: message %s (%s): %s", f.Name, target, m.Key, m.MessageID, outcomes[i])
		}
	}
	for _, g := range got {
		if !g.used {
			t.Errorf("%q: the target holds a message the archive does not: %q %v %s", target, g.raw[:min(len(g.raw), 80)],
				g.flags, g.date)
		}
	}
	return missing
}

// matchBytes finds the archive message among the target's by its bytes,
// or by its bytes with bare LF made CRLF, and says how the target has it.
func matchBytes(raw []byte, flags []string, date time.Time, got []*served) string {
	for _, how := range []func([]byte) []byte{func(b []byte) []byte { return b }, toCRLF} {
		want := sha256.Sum256(how(raw))
		if i := slices.IndexFunc(got, func(s *served) bool { return !s.used && sha256.Sum256(s.raw) == want }); i >= 0 {
			return served1(got[i], raw, flags, date)
		}
	}
	return refused
}

// matchIdentity pairs an archive message the target changed with what the
// target holds under its Message-ID or X-Case.
func matchIdentity(raw []byte, flags []string, date time.Time, got []*served) string {
	id := identity(raw)
	if id == "" {
		return refused
	}
	if i := slices.IndexFunc(got, func(s *served) bool { return !s.used && identity(s.raw) == id }); i >= 0 {
		return served1(got[i], raw, flags, date)
	}
	return refused
}

var identityRE = regexp.MustCompile(`(?mi)^(?:Message-ID|X-Case): *(.*?)\r?$`)

func identity(raw []byte) string {
	if m := identityRE.FindSubmatch(raw); m != nil {
		return string(m[1])
	}
	return ""
}

// served1 marks g as the target's copy of an archive message and
// describes what the target changed.
func served1(g *served, raw []byte, flags []string, date time.Time) string {
	g.used = true
	flags = slices.Sorted(slices.Values(flags))
	var changes []string
	switch {
	case bytes.Equal(g.raw, raw):
	case bytes.Equal(g.raw, toCRLF(raw)):
		changes = append(changes, crlf)
	default:
		changes = append(changes, describeBytes(raw, g.raw))
	}
	switch {
	case slices.Equal(g.flags, flags):
	case slices.EqualFunc(g.flags, lowerSorted(flags), strings.EqualFold):
		changes = append(changes, lowerKeywords)
	default:
		changes = append(changes, fmt.Sprintf("flags %q instead of %q", g.flags, flags))
	}
	switch {
	case g.date.Equal(date):
	case time.Since(g.date).Abs() < 10*time.Minute:
		changes = append(changes, appendTime)
	default:
		changes = append(changes, "served as "+g.date.UTC().Format(time.RFC3339))
	}
	if len(changes) == 0 {
		return kept
	}
	return strings.Join(changes, ", ")
}

// cutChange takes one change out of an outcome.
func cutChange(outcome, change string) (string, bool) {
	parts := strings.Split(outcome, ", ")
	i := slices.Index(parts, change)
	if i < 0 {
		return outcome, false
	}
	if parts = slices.Delete(parts, i, i+1); len(parts) == 0 {
		return kept, true
	}
	return strings.Join(parts, ", "), true
}

// lowerKeywords: the target serves keywords in lower case.
const lowerKeywords = "keywords in lower case"

func lowerSorted(flags []string) []string {
	out := make([]string, len(flags))
	for i, f := range flags {
		out[i] = f
		if !strings.HasPrefix(f, `\`) {
			out[i] = strings.ToLower(f)
		}
	}
	slices.Sort(out)
	return out
}

// describeBytes says how the target changed a message.
func describeBytes(archived, served []byte) string {
	if bytes.Equal(served, append(toCRLF(archived), "\r\n"...)) {
		return crlfAdded
	}
	if len(served) == len(archived) {
		x := true
		for i := range served {
			if served[i] != archived[i] && (archived[i] < 0x80 || served[i] != 'X') {
				x = false
			}
		}
		if x {
			return munged
		}
	}
	return fmt.Sprintf("served as %d other bytes (%d archived)", len(served), len(archived))
}

func toCRLF(b []byte) []byte {
	return bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
}

var (
	caseRE    = regexp.MustCompile(`(?m)^X-Case: (.*?)\r?$`)
	specialRE = regexp.MustCompile(`(?mi)^Message-ID: <special\.[0-9a-f]+\.(.*?)@corpus\.mailkeep\.test>`)
)

// caseOf returns an edge message's case (edge true), or the name of a
// special message of the corpus, or "" for any other message.
func caseOf(raw []byte) (key string, edge bool) {
	if m := caseRE.FindSubmatch(raw); m != nil && !bytes.HasPrefix(m[1], []byte("folder ")) {
		return string(m[1]), true
	}
	if m := specialRE.FindSubmatch(raw); m != nil {
		return "special " + string(m[1]), false
	}
	return "", false
}

func readMessage(t *testing.T, f *archive.Folder, m archive.Message) []byte {
	t.Helper()
	r, err := f.OpenMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	raw, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// checkFolders compares where each folder went with where it should go:
// the name want gives, else the plain rules' (its levels, below the
// target's prefix or its INBOX, joined with its delimiter).
func checkFolders(t *testing.T, got, want map[string]string, dst mserver) {
	t.Helper()
	for rel, g := range got {
		w, ok := want[rel]
		if !ok {
			levels := strings.Split(rel, "/")
			w = strings.Join(levels, string(dst.delim))
			if levels[0] != "INBOX" {
				w = dst.prefix + w
			}
		}
		if g != w {
			t.Errorf("folder %q: %s, want %s", rel, g, w)
		}
	}
	for rel := range want {
		if _, ok := got[rel]; !ok {
			t.Errorf("folder %q has an expectation and is not in the archive", rel)
		}
	}
}

// checkOutcomes compares what became of the edge messages with what the
// target is known to do.
func checkOutcomes(t *testing.T, got, want map[string]string) {
	t.Helper()
	for key, w := range want {
		if got[key] != w {
			t.Errorf("message %s: %q, want %q", key, got[key], w)
		}
	}
	for key, g := range got {
		if _, ok := want[key]; !ok {
			t.Errorf("message %s: %q, and no expectation", key, g)
		}
	}
}

// restorePaths says which of the extensions a restore can use the target
// offers, so which path ran.
type restorePaths struct {
	namespace        bool        // NAMESPACE; else the prefix is guessed from LIST
	specialUse       bool        // LIST RETURN (SPECIAL-USE); else what LIST gives
	createSpecialUse bool        // CREATE … (USE (…)); else a plain CREATE
	literals         literalKind // how APPEND sent its literals
	// reconnects: a refusal before the literal (no LITERAL+) makes the
	// client close the connection; the folder goes on over a new one.
	reconnects int
}

var (
	namespaceRE  = regexp.MustCompile(`(?m)^\S+ NAMESPACE\r$`)
	specialUseRE = regexp.MustCompile(`(?m)^\S+ LIST "" "\*" RETURN \(SPECIAL-USE\)\r$`)
	createUseRE  = regexp.MustCompile(`(?m)^\S+ CREATE .* \(USE \(\\[A-Za-z]+\)\)\r$`)
	literalRE    = regexp.MustCompile(`(?m)^\S+ APPEND .*\{(\d+)(\+?)\}\r$`)
	selectRE     = regexp.MustCompile(`(?m)^\S+ SELECT `)
	leaveRE      = regexp.MustCompile(`(?m)^\S+ (EXAMINE .*|UNSELECT|CLOSE)\r$`)
	loginRE      = regexp.MustCompile(`(?m)^\S+ (LOGIN|AUTHENTICATE) `)
)

// checkPaths checks, from the commands of a first restore into an empty
// account, that the restore took the paths the target's extensions call
// for, and what the mapping says it learnt.
func checkPaths(t *testing.T, want restorePaths, r restoreRun) {
	t.Helper()
	got := restorePaths{
		namespace:        namespaceRE.MatchString(r.cmds),
		specialUse:       specialUseRE.MatchString(r.cmds),
		createSpecialUse: createUseRE.MatchString(r.cmds),
	}
	// Each folder is SELECTed (read-write) and appended to while selected,
	// and left by the next SELECT or LOGOUT: never by CLOSE, which would
	// expunge restored messages marked \Deleted.
	if !selectRE.MatchString(r.cmds) || leaveRE.MatchString(r.cmds) {
		t.Errorf("the restore sent no SELECT, or EXAMINE, UNSELECT or CLOSE: %q", leaveRE.FindAllString(r.cmds, -1))
	}
	var plus, sync int
	got.literals, plus, sync = literalsSent(r.cmds)
	if logins := len(loginRE.FindAllString(r.cmds, -1)); logins != 4+want.reconnects {
		t.Errorf("%d logins, want 4 connections and %d more after refused APPENDs", logins, want.reconnects)
	}
	t.Logf("paths: NAMESPACE %v, RETURN (SPECIAL-USE) %v, CREATE (USE) %v; APPEND literals: %d {n+}, %d {n}",
		got.namespace, got.specialUse, got.createSpecialUse, plus, sync)
	if got.reconnects = want.reconnects; got != want {
		t.Errorf("the restore used %+v, want %+v", got, want)
	}
	tg := r.res.Mapping.Target
	if (tg.PrefixFrom == "NAMESPACE") != want.namespace || (tg.SpecialUse == "RETURN (SPECIAL-USE)") != want.specialUse ||
		tg.CreateSpecialUse != want.createSpecialUse {
		t.Errorf("the mapping says the target is %+v", tg)
	}
}

// literalKind is how a client sent the literals of its APPENDs.
type literalKind string

const (
	literalPlus  literalKind = "LITERAL+" // every literal {n+}
	literalMinus literalKind = "LITERAL-" // {n+} up to 4096 bytes, {n} above
	literalSync  literalKind = "sync"     // every literal {n}, sent after the server's "+"
)

// literalsSent tells from recorded commands how the APPEND literals were
// sent, and counts the non-synchronizing and synchronizing ones.
func literalsSent(cmds string) (kind literalKind, plus, sync int) {
	var smallPlus, smallSync, largePlus, largeSync int
	for _, m := range literalRE.FindAllStringSubmatch(cmds, -1) {
		var size int
		fmt.Sscan(m[1], &size)
		switch {
		case size <= 4096 && m[2] == "+":
			smallPlus++
		case size <= 4096:
			smallSync++
		case m[2] == "+":
			largePlus++
		default:
			largeSync++
		}
	}
	plus, sync = smallPlus+largePlus, smallSync+largeSync
	switch {
	case sync == 0:
		kind = literalPlus
	case plus == 0:
		kind = literalSync
	case smallSync == 0 && largePlus == 0:
		kind = literalMinus
	default:
		kind = literalKind(fmt.Sprintf("mixed: up to 4096 bytes %d {n+} %d {n}, above %d {n+} %d {n}",
			smallPlus, smallSync, largePlus, largeSync))
	}
	return kind, plus, sync
}

// checkCreatedUses checks that every folder the restore created with a
// special use is listed with it.
func checkCreatedUses(t *testing.T, c *imapclient.Client, m restore.Mapping) {
	t.Helper()
	list, err := c.List("", "*", &imap.ListOptions{ReturnSpecialUse: c.Caps().Has(imap.CapSpecialUse)}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, fm := range m.Folders {
		if fm.CreateUse == "" {
			continue
		}
		i := slices.IndexFunc(list, func(l *imap.ListData) bool { return l.Mailbox == fm.Target })
		if i < 0 || !slices.Contains(list[i].Attrs, imap.MailboxAttr(fm.CreateUse)) {
			t.Errorf("folder %q was created as %s and is not listed so", fm.Target, fm.CreateUse)
		}
	}
}
