package restore_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
	"github.com/mailkeep/mailkeep/internal/servertest"
	"github.com/mailkeep/mailkeep/restore"
)

// TestRestoreAsOf: back up, then flag, delete and add messages and delete
// a folder, back up again; a restore as of the first run brings back the
// first run's folders and messages with the first run's flags, and a
// restore of the latest state brings back the second run's.
func TestRestoreAsOf(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	c := loadCorpus(t, srv, "alice", corpus.Generate(corpus.Options{Seed: 22, Count: 60}))
	first := takeSnapshot(t, c)
	root := t.TempDir()
	run1 := runBackup(t, srv, root, "alice")

	// corpus.Load creates every corpus folder, R&D too: load before the change.
	if err := corpus.Load(t.Context(), c, corpus.More(corpus.Options{Seed: 22, Count: 60}, 5, 0)); err != nil {
		t.Fatal(err)
	}
	change(t, c)
	second := takeSnapshot(t, c)
	if _, ok := second["R&D"]; ok {
		t.Fatal("folder R&D was not deleted")
	}
	if res := runBackup(t, srv, root, "alice"); res.Stats.FlagUpdates != 2 || res.Stats.Gone == 0 {
		t.Fatalf("second backup saw %+v, want 2 flag updates and gone messages", res.Stats)
	}
	runs := archiveRuns(t, root, "alice")
	started, between := runs[run1.RunID], runs[run1.RunID].Add(runs[run1.RunID+1].Sub(runs[run1.RunID])/2)

	res, _ := runRestore(t, root, "alice", restore.Options{Dial: userDialer(srv, "carol"), AsOf: archive.AsOf{Time: between}})
	if res.Run.ID != run1.RunID || res.Failed != 0 {
		t.Fatalf("restored the state of run %d with %d failures, want run %d", res.Run.ID, res.Failed, run1.RunID)
	}
	sameSnapshot(t, "as of the first run", takeSnapshot(t, srv.Dial(t, "carol")), first)

	res, _ = runRestore(t, root, "alice", restore.Options{Dial: userDialer(srv, "bob")})
	if res.Run.ID != 0 || res.Failed != 0 {
		t.Fatalf("latest state: run %d, %d failures", res.Run.ID, res.Failed)
	}
	sameSnapshot(t, "latest state", takeSnapshot(t, srv.Dial(t, "bob")), second)

	// Back to where it came from: the state of the first run restored into
	// alice brings back what was deleted, and only that.
	asOf := restore.Options{Dial: userDialer(srv, "alice"), AsOf: archive.AsOf{Time: between}}
	if res, _ = runRestore(t, root, "alice", asOf); res.Appended != missingFrom(first, second) || res.Failed != 0 ||
		res.Created != 1 {
		t.Errorf("as of the first run into alice: %d appended, %d folders created; want %d and 1 (R&D)",
			res.Appended, res.Created, missingFrom(first, second))
	}
	if res, _ = runRestore(t, root, "alice", asOf); res.Appended != 0 {
		t.Errorf("again: %d appended, want 0", res.Appended)
	}
	// The next backup recognizes the restored messages by their content:
	// nothing is stored twice.
	if res := runBackup(t, srv, root, "alice"); res.Stats.NewMessages != 0 {
		t.Errorf("backup after the restore into alice: %+v, want no new messages", res.Stats)
	}
	noDuplicateContent(t, root, "alice")

	_, err := restore.Run(t.Context(), root, "alice", restore.Options{Dial: userDialer(srv, "bob"),
		AsOf: archive.AsOf{Time: started.Add(-time.Hour)}})
	if !errors.Is(err, archive.ErrNoRun) {
		t.Errorf("as of an hour before the first run: %v, want ErrNoRun", err)
	}
}

// noDuplicateContent: no folder of the archive holds one content twice.
func noDuplicateContent(t *testing.T, root, account string) {
	t.Helper()
	snap, err := archive.OpenSnapshot(t.Context(), root, account)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	folders, _ := snap.Folders(t.Context(), archive.View{Gone: archive.GoneToo})
	for _, f := range folders {
		msgs, _ := snap.Messages(t.Context(), f.ID, archive.View{Gone: archive.GoneToo})
		seen := map[[32]byte]string{}
		for _, m := range msgs {
			if k, ok := seen[m.SHA256]; ok {
				t.Errorf("folder %q holds one content twice: %s and %s", f.Name, k, m.Key)
			}
			seen[m.SHA256] = m.Key
		}
	}
}

// missingFrom counts the messages of a that b lacks, by content alone.
func missingFrom(a, b snapshot) int {
	n := 0
	for name, lines := range a {
		have := map[string]int{}
		for _, l := range b[name] {
			have[strings.Fields(l)[0]]++
		}
		for _, l := range lines {
			if h := strings.Fields(l)[0]; have[h] > 0 {
				have[h]--
			} else {
				n++
			}
		}
	}
	return n
}

// change flags two INBOX messages, expunges two and deletes folder R&D.
func change(t *testing.T, c *imapclient.Client) {
	t.Helper()
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	store := func(seq uint32, op imap.StoreFlagsOp, flag imap.Flag) {
		err := c.Store(imap.SeqSetNum(seq), &imap.StoreFlags{Op: op, Silent: true, Flags: []imap.Flag{flag}}, nil).Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	store(1, imap.StoreFlagsAdd, "Marked-Later")
	store(3, imap.StoreFlagsAdd, imap.FlagFlagged)
	store(2, imap.StoreFlagsAdd, imap.FlagDeleted)
	store(4, imap.StoreFlagsAdd, imap.FlagDeleted)
	if err := c.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("R&D").Wait(); err != nil {
		t.Fatal(err)
	}
}

// archiveRuns returns the start times of an archive's runs by id.
func archiveRuns(t *testing.T, root, account string) map[int64]time.Time {
	t.Helper()
	cat, err := archive.OpenSnapshot(t.Context(), root, account)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	runs, err := cat.Runs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]time.Time{}
	for _, r := range runs {
		out[r.ID] = r.Started
	}
	return out
}

// TestRestoreDryRun: a dry run reports what a restore would do and
// changes nothing on the target.
func TestRestoreDryRun(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	msgs := corpus.Generate(corpus.Options{Seed: 23, Count: 40})
	loadCorpus(t, srv, "alice", msgs)
	root := t.TempDir()
	runBackup(t, srv, root, "alice")
	res, _ := runRestore(t, root, "alice", restore.Options{Dial: userDialer(srv, "carol"), Folders: []string{"INBOX", "Sent"}})
	restored := res.Appended

	carol := srv.Dial(t, "carol")
	before := takeSnapshot(t, carol)
	res, err := runRestore(t, root, "alice", restore.Options{Dial: userDialer(srv, "carol"), DryRun: true})
	if err != nil || res.Appended != len(msgs)-restored || res.Skipped != restored ||
		res.Created != len(corpus.Folders(msgs))-2 {
		t.Errorf("dry run: %+v, %v; want %d to append, %d present, %d to create", res, err,
			len(msgs)-restored, restored, len(corpus.Folders(msgs))-2)
	}
	sameSnapshot(t, "after the dry run", takeSnapshot(t, carol), before)

	// The folders carol lacks were counted from the view's totals, without
	// their rows: the restore itself must append just as much.
	dry := res
	res, err = runRestore(t, root, "alice", restore.Options{Dial: userDialer(srv, "carol")})
	if err != nil || res.Appended != dry.Appended || res.Bytes != dry.Bytes {
		t.Errorf("restore after the dry run: %d messages of %d bytes, %v; the dry run said %d of %d",
			res.Appended, res.Bytes, err, dry.Appended, dry.Bytes)
	}
}

// TestRestoreRefused: the target refuses two messages (a keyword longer
// than Dovecot allows), a small one and a large one. Both are reported;
// everything else is restored. Both literals are non-synchronizing
// (Dovecot has LITERAL+), so the refusals keep the connections: each run
// logs in once per connection. (Without LITERAL+, a refusal of a large
// message comes before its literal and the client library drops the
// connection: TestRestoreFromDovecot/Courier.)
func TestRestoreRefused(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	rec := servertest.RecordCommands(t, srv.IMAPAddr)
	msgs := corpus.Generate(corpus.Options{Seed: 24, Count: 40, Big: 200 << 10})
	want := takeSnapshot(t, loadCorpus(t, srv, "alice", msgs))
	root := t.TempDir()
	runBackup(t, srv, root, "alice")
	bad := editArchive(t, root, "alice", func(a *archive.Writer, f *archive.Folder, ms []archive.Message) []archive.Message {
		small, big := smallest(ms), largest(ms)
		long := strings.Repeat("k", 60) // mail_max_keyword_length is 50
		ups := []archive.FlagUpdate{
			{ID: small.ID, Flags: append(small.Flags, long), File: small.File},
			{ID: big.ID, Flags: append(big.Flags, long), File: big.File},
		}
		if err := a.Catalog.UpdateFlags(t.Context(), ups, 1); err != nil {
			t.Fatal(err)
		}
		return []archive.Message{small, big}
	})
	if bad[0].Size > 4096 || bad[1].Size < 100<<10 {
		t.Fatalf("refused messages of %d and %d bytes; want one small and one large", bad[0].Size, bad[1].Size)
	}
	for range 2 {
		res, err := runRestore(t, root, "alice", restore.Options{Dial: dialer(rec.Addr, "carol", srv.Password("carol"))})
		if !errors.Is(err, restore.ErrPartial) || res.Failed != 2 || res.Appended+res.Skipped != len(msgs)-2 {
			t.Fatalf("restore: %+v, %v; want 2 failed and the rest restored", res, err)
		}
		cmds := rec.Take()
		if logins := len(loginRE.FindAllString(cmds, -1)); logins != 4 {
			t.Errorf("%d logins, want 4 (one per connection)", logins)
		}
		if kind, _, _ := literalsSent(cmds); kind != literalPlus {
			t.Errorf("APPEND literals: %s, want %s", kind, literalPlus)
		}
		for _, f := range res.Failures {
			if !strings.Contains(f.Error(), "Keyword length too long") {
				t.Errorf("failure does not give the server's reason: %v", f)
			}
		}
	}
	got := takeSnapshot(t, srv.Dial(t, "carol"))
	if count(got) != count(want)-2 {
		t.Errorf("target holds %d messages, want %d", count(got), count(want)-2)
	}
	checkSubset(t, got, want)
}

// TestRestoreDamagedArchive: archive files whose content no longer
// matches the catalog (a flipped byte, a truncated file) are reported and
// never stored on the target, not even in part; the rest is restored.
func TestRestoreDamagedArchive(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	msgs := corpus.Generate(corpus.Options{Seed: 25, Count: 30, Big: 2 << 20})
	want := takeSnapshot(t, loadCorpus(t, srv, "alice", msgs))
	root := t.TempDir()
	runBackup(t, srv, root, "alice")
	editArchive(t, root, "alice", func(a *archive.Writer, f *archive.Folder, ms []archive.Message) []archive.Message {
		small, big := smallest(ms), largest(ms)
		damage(t, filePath(t, f, big), func(b []byte) []byte { b[len(b)/2] ^= 0x55; return b })
		damage(t, filePath(t, f, small), func(b []byte) []byte { return b[:len(b)-6] })
		return nil
	})
	res, err := runRestore(t, root, "alice", restore.Options{Dial: userDialer(srv, "carol")})
	if !errors.Is(err, restore.ErrPartial) || res.Failed != 2 || res.Appended+res.Skipped != len(msgs)-2 {
		t.Fatalf("restore: %+v, %v; want 2 failed", res, err)
	}
	got := takeSnapshot(t, srv.Dial(t, "carol"))
	if count(got) != count(want)-2 {
		t.Errorf("target holds %d messages, want %d", count(got), count(want)-2)
	}
	checkSubset(t, got, want)
}

// editArchive opens an account's INBOX in the archive, lets edit change
// it, and returns what edit returns.
func editArchive(t *testing.T, root, account string,
	edit func(*archive.Writer, *archive.Folder, []archive.Message) []archive.Message) []archive.Message {
	t.Helper()
	a, err := archive.OpenWriter(t.Context(), root, account, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	folders, err := a.Catalog.Folders(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(folders, func(f archive.FolderState) bool { return f.Name == "INBOX" })
	f, err := a.Folder("INBOX", '/')
	if err != nil || i < 0 {
		t.Fatal(err, i)
	}
	ms, err := a.Catalog.FolderMessages(t.Context(), folders[i].ID)
	if err != nil {
		t.Fatal(err)
	}
	return edit(a, f, ms)
}

func smallest(ms []archive.Message) archive.Message {
	return slices.MinFunc(ms, func(a, b archive.Message) int { return int(a.Size - b.Size) })
}

func largest(ms []archive.Message) archive.Message {
	return slices.MaxFunc(ms, func(a, b archive.Message) int { return int(a.Size - b.Size) })
}

func filePath(t *testing.T, f *archive.Folder, m archive.Message) string {
	t.Helper()
	mf, err := archive.ParseMessageFile(m.File)
	if err != nil {
		t.Fatal(err)
	}
	return f.Path(mf)
}

func damage(t *testing.T, path string, edit func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, edit(b), 0o640); err != nil {
		t.Fatal(err)
	}
}

// checkSubset: every message of got is in want, as often as there.
func checkSubset(t *testing.T, got, want snapshot) {
	t.Helper()
	for name, lines := range got {
		left := slices.Clone(want[name])
		for _, l := range lines {
			i := slices.Index(left, l)
			if i < 0 {
				t.Errorf("folder %q holds a message the source does not: %s", name, l)
				continue
			}
			left = slices.Delete(left, i, i+1)
		}
	}
}

// TestRestoreInterrupted cuts the restore's connections mid-APPEND. When
// only the first connection is cut, the run resumes the folder on a new
// connection and still stores every message once. When the server stays
// unreachable, the run ends incomplete; a second run then completes it,
// again with every message exactly once. The rows to send are read 7 at a
// time, so that the cuts and resumes fall across pages of the folders.
func TestRestoreInterrupted(t *testing.T) {
	defer restore.SetSendPage(7)()
	srv := dovecottest.Start(t, dovecottest.Options{})
	msgs := corpus.Generate(corpus.Options{Seed: 26, Count: 150, Big: 3 << 20})
	want := takeSnapshot(t, loadCorpus(t, srv, "alice", msgs))
	root := t.TempDir()
	runBackup(t, srv, root, "alice")

	t.Run("resumed in the same run", func(t *testing.T) {
		p := startProxy(t, srv.IMAPAddr, 400<<10, false)
		res, err := runRestore(t, root, "alice", restore.Options{Dial: dialer(p.addr(), "carol", srv.Password("carol"))})
		if err != nil || res.Failed != 0 || res.Appended+res.Skipped != len(msgs) || p.cuts.Load() != 1 {
			t.Fatalf("restore: %+v, %v, %d cuts; want all restored after one cut", res, err, p.cuts.Load())
		}
		sameSnapshot(t, "resumed restore", takeSnapshot(t, srv.Dial(t, "carol")), want)
	})
	t.Run("completed by the next run", func(t *testing.T) {
		p := startProxy(t, srv.IMAPAddr, 3<<20, true)
		res, err := runRestore(t, root, "alice", restore.Options{Dial: dialer(p.addr(), "bob", srv.Password("bob"))})
		if err == nil || res.Appended == 0 || res.Appended == len(msgs) {
			t.Fatalf("cut restore: %+v, %v; want an incomplete run", res, err)
		}
		res, err = runRestore(t, root, "alice", restore.Options{Dial: userDialer(srv, "bob")})
		if err != nil || res.Failed != 0 {
			t.Fatalf("second restore: %+v, %v", res, err)
		}
		sameSnapshot(t, "restore completed by a second run", takeSnapshot(t, srv.Dial(t, "bob")), want)
	})
}

// proxy forwards loopback connections to target and cuts the one that
// crosses limit bytes sent from clients to the server, in the middle of
// whatever it sends. With dead, every connection is cut (or refused) from
// then on.
type proxy struct {
	ln     net.Listener
	target string
	limit  int64
	dead   bool
	sent   atomic.Int64
	cuts   atomic.Int32
}

func startProxy(t *testing.T, target string, limit int64, dead bool) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, limit: limit, dead: dead}
	t.Cleanup(func() { ln.Close() })
	go p.serve()
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.handle(c)
	}
}

func (p *proxy) handle(c net.Conn) {
	defer c.Close()
	if p.dead && p.cuts.Load() > 0 {
		return
	}
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer s.Close()
	go io.Copy(c, s)
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			total := p.sent.Add(int64(n))
			if crossed := total-int64(n) <= p.limit; total > p.limit && (crossed || p.dead) {
				p.cuts.Add(1)
				if crossed {
					s.Write(buf[:n-int(total-p.limit)]) // up to the limit, then cut
				}
				return
			}
			if _, err := s.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestRestorePOP3Archive restores the archive of a POP3 account (one
// folder, messages keyed by UIDL) into an IMAP INBOX, and below --into.
func TestRestorePOP3Archive(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	msgs := corpus.Generate(corpus.Options{Seed: 27, Count: 25, Folders: []string{"INBOX"}})
	root := t.TempDir()
	writePOP3Archive(t, root, "pop", msgs)
	var want []string
	for _, m := range msgs {
		want = append(want, fmt.Sprintf("%x %d [] %s", sha256.Sum256(m.Raw), len(m.Raw), m.Date.UTC().Format(time.RFC3339)))
	}
	slices.Sort(want)

	res, _ := runRestore(t, root, "pop", restore.Options{Dial: userDialer(srv, "carol")})
	if res.Appended != len(msgs) || res.Created != 0 {
		t.Fatalf("restore: %+v", res)
	}
	sameSnapshot(t, "POP3 archive in INBOX", takeSnapshot(t, srv.Dial(t, "carol")), snapshot{"INBOX": want})

	res, _ = runRestore(t, root, "pop", restore.Options{Dial: userDialer(srv, "bob"), Into: "Old POP/"})
	if res.Appended != len(msgs) || res.Created != 1 {
		t.Fatalf("restore --into: %+v", res)
	}
	sameSnapshot(t, "POP3 archive below Old POP", takeSnapshot(t, srv.Dial(t, "bob")),
		snapshot{"INBOX": {}, "Old POP/INBOX": want})
}

// writePOP3Archive writes msgs into a new archive the way a POP3 backup
// does: folder INBOX without a delimiter, keys from UIDLs, no flags.
func writePOP3Archive(t *testing.T, root, account string, msgs []corpus.Message) {
	t.Helper()
	ctx := t.Context()
	a, err := archive.OpenWriter(ctx, root, account, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	run, err := a.Catalog.BeginRun(ctx, "pop3", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f, err := a.Folder("INBOX", 0)
	if err != nil {
		t.Fatal(err)
	}
	st, err := a.Catalog.EnsureFolder(ctx, f, run)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := archive.NewSpool("")
	if err != nil {
		t.Fatal(err)
	}
	var b archive.Batch
	var rows []archive.Message
	for i, m := range msgs {
		staged, err := sp.Write(f, bytes.NewReader(m.Raw))
		if err != nil {
			t.Fatal(err)
		}
		uidl := fmt.Sprintf("%08X%08X", i+1, 1700000000)
		mf, err := b.Add(staged, archive.POP3Key(uidl), "", m.Date)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, archive.Message{FolderID: st.ID, UIDL: uidl, Key: mf.Key, File: mf.Name(),
			SHA256: staged.SHA256, Size: staged.Size, VSize: staged.VSize, InternalDate: m.Date,
			MessageID: staged.MessageID})
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := a.Catalog.AddMessages(ctx, rows, run); err != nil {
		t.Fatal(err)
	}
	if err := a.Catalog.FinishRun(ctx, run, archive.OutcomeOK, archive.RunStats{NewMessages: len(rows)}, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
}
