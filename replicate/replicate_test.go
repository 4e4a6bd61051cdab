package replicate_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/internal/s3test"
	"github.com/mailkeep/mailkeep/replicate"
)

// TestLifecycle runs, for a directory and for S3, a first copy, a rerun
// without change, a flag change, new mail and a prune, and checks after
// each that the replica is complete and equal to the archive.
func TestLifecycle(t *testing.T) {
	f := newFixture(t, 60)
	kinds, srv := stores(t)
	for _, kind := range []string{"dir", "s3"} {
		t.Run(kind, func(t *testing.T) {
			st := kinds[kind](t, "")
			puts := func() int { return srv.Puts(t, t.Name()+"/alice/msg/") }
			first := run(t, f, st, replicate.Options{})
			if first.Sent != first.Objects || first.Present != 0 || !first.CatalogSent || first.Messages != f.n {
				t.Fatalf("first copy: %+v (want %d messages, all sent)", first, f.n)
			}
			check(t, st, f.n)
			sameAsArchive(t, f, st)

			before := puts()
			if kind == "s3" && before != first.Sent {
				t.Fatalf("first copy: the server logged %d message PUTs, the run sent %d", before, first.Sent)
			}
			again := run(t, f, st, replicate.Options{})
			if again.Sent != 0 || again.CatalogSent || again.Present != first.Objects {
				t.Fatalf("rerun without change: %+v", again)
			}
			if kind == "s3" && puts() != before {
				t.Fatalf("rerun without change: %d message PUTs", puts()-before)
			}

			f.flag(t, 5)
			f.backup(t)
			flagged := run(t, f, st, replicate.Options{})
			if flagged.Sent != 0 || !flagged.CatalogSent {
				t.Fatalf("after a flag change: %+v (want no message sent, a new catalog)", flagged)
			}
			if kind == "s3" && puts() != before {
				t.Fatalf("a flag change sent %d message objects", puts()-before)
			}
			sameAsArchive(t, f, st)

			f.add(t, 7)
			f.backup(t)
			more := run(t, f, st, replicate.Options{})
			if more.Sent != 7 || more.Messages != f.n {
				t.Fatalf("after 7 new messages: %+v", more)
			}
			check(t, st, f.n)
			sameAsArchive(t, f, st)
			catalogs := 0
			st.List(t.Context(), "catalog/", func(string, int64) error { catalogs++; return nil })
			if catalogs != 1 {
				t.Fatalf("%d catalog copies in the replica, want 1", catalogs)
			}
		})
	}
}

// TestPrune: messages that prune removed from the archive leave the
// replica at the next run, unless keep_pruned; a replica with keep_pruned
// keeps the state before the prune, whole and readable.
func TestPrune(t *testing.T) {
	kinds, _ := stores(t)
	for _, kind := range []string{"dir", "s3"} {
		t.Run(kind, func(t *testing.T) {
			f := newFixture(t, 30)
			keep, drop := kinds[kind](t, "keep/"), kinds[kind](t, "drop/")
			run(t, f, keep, replicate.Options{KeepPruned: true})
			first := run(t, f, drop, replicate.Options{})
			f.backup(t) // a run that prunes nothing: no state kept
			run(t, f, keep, replicate.Options{KeepPruned: true})
			before := f.n
			f.prune(t, 4) // a backup that finds 4 messages gone, then the prune
			kept := run(t, f, keep, replicate.Options{KeepPruned: true})
			dropped := run(t, f, drop, replicate.Options{})
			if kept.Removed != 0 || dropped.Removed != 4 || dropped.Objects != first.Objects-4 {
				t.Fatalf("keep_pruned removed %d, the default %d (objects %d → %d); want 0 and 4",
					kept.Removed, dropped.Removed, first.Objects, dropped.Objects)
			}
			check(t, drop, f.n)
			sameAsArchive(t, f, drop)
			rep := check(t, keep, f.n)
			if rep.Unnamed != 4 || len(rep.Kept) != 1 || rep.Kept[0] >= kept.Run {
				t.Fatalf("keep_pruned replica: %d unnamed objects, kept states %v (now at run %d); want 4 and one before",
					rep.Unnamed, rep.Kept, kept.Run)
			}
			// The state the replica held before: every message, the 4 pruned ones still there.
			rp, err := replicate.OpenKept(t.Context(), keep, "", rep.Kept[0])
			if err != nil {
				t.Fatal(err)
			}
			defer rp.Close()
			if got := contents(t, rp.Snapshot, archive.View{}); len(got) != before {
				t.Fatalf("kept state: %d messages, want %d", len(got), before)
			}
			if _, err := replicate.OpenKept(t.Context(), drop, "", 999); !errors.Is(err, replicate.ErrNoState) {
				t.Fatalf("a state that is not kept: %v", err)
			}
			// keep_pruned turned off: the pruned objects go, and so does the
			// kept state that needed them, also when the archive has not changed.
			keptRun := rep.Kept[0]
			off := run(t, f, keep, replicate.Options{})
			rep = check(t, keep, f.n)
			if off.Removed != 4 || rep.Unnamed != 0 || len(rep.Kept) != 0 {
				t.Fatalf("keep_pruned off: removed %d, %d unnamed, kept states %v; want 4, 0, none", off.Removed, rep.Unnamed, rep.Kept)
			}
			if _, err := replicate.OpenKept(t.Context(), keep, "", keptRun); !errors.Is(err, replicate.ErrNoState) {
				t.Fatalf("the kept state after keep_pruned was turned off: %v", err)
			}
		})
	}
}

// TestResume: a run that fails after some objects arrived leaves the
// previous state in place; the next run sends only the rest.
func TestResume(t *testing.T) {
	f := newFixture(t, 40)
	kinds, _ := stores(t)
	for _, kind := range []string{"dir", "s3"} {
		t.Run(kind, func(t *testing.T) {
			st := kinds[kind](t, "")
			run(t, f, st, replicate.Options{})
			f.add(t, 20)
			f.backup(t)
			failing := &failAfter{Store: st, n: 8}
			_, err := replicate.Run(t.Context(), f.root, "alice", failing, replicate.Options{Workers: 1})
			if !errors.Is(err, errInjected) {
				t.Fatalf("run with a failing store: %v", err)
			}
			check(t, st, f.n-20) // still the previous state, complete
			res := run(t, f, st, replicate.Options{})
			if res.Sent != 20-8 || res.Present != res.Objects-res.Sent {
				t.Fatalf("resumed run: %+v (want 12 sent)", res)
			}
			check(t, st, f.n)
		})
	}
}

var errInjected = errors.New("injected failure")

// failAfter fails every message Put after the first n.
type failAfter struct {
	replicate.Store
	n int
}

func (s *failAfter) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	if strings.HasPrefix(name, "msg/") {
		if s.n == 0 {
			return errInjected
		}
		s.n--
	}
	return s.Store.Put(ctx, name, r, size)
}

// TestDamagedFile: a damaged archive file is never sent; the run is
// partial, the manifest names the message, and the replica is otherwise
// complete.
func TestDamagedFile(t *testing.T) {
	f := newFixture(t, 20)
	st, err := replicate.NewDir(t.TempDir(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(f.root, "alice", "mail", "INBOX", ".mk", "cur", "*"))
	data, _ := os.ReadFile(files[0])
	data[len(data)/2] ^= 0xff
	os.WriteFile(files[0], data, 0o600)
	res, err := replicate.Run(t.Context(), f.root, "alice", st, replicate.Options{})
	if !errors.Is(err, replicate.ErrPartial) || len(res.Missing) != 1 || res.Sent != res.Objects-1 {
		t.Fatalf("damaged file: %v, %+v", err, res)
	}
	rep, err := replicate.Check(t.Context(), st, replicate.CheckOptions{})
	if err != nil || rep.Unrepaired() != 1 || rep.Problems[0].Kind != replicate.ProblemNotReplicated {
		t.Fatalf("check: %v %v", err, rep.Problems)
	}
}

// TestForeign: a replica of one archive is not overwritten from another.
func TestForeign(t *testing.T) {
	a, b := newFixture(t, 5), newFixture(t, 5)
	st, err := replicate.NewDir(t.TempDir(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	run(t, a, st, replicate.Options{})
	b.backup(t) // a second run, so that run ids alone would not tell
	_, err = replicate.Run(t.Context(), b.root, "alice", st, replicate.Options{})
	if !errors.Is(err, replicate.ErrForeign) {
		t.Fatalf("replicating another archive into a replica: %v", err)
	}
	check(t, st, a.n)

	// Runs that prune merged away are no sign of another archive.
	a.backup(t)
	a.backup(t)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(a.root, "alice", "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`DELETE FROM runs WHERE id < (SELECT MAX(id) FROM runs)`)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	run(t, a, st, replicate.Options{})
	check(t, st, a.n)
}

// TestS3Errors: wrong keys, a missing bucket and a stopped endpoint give
// clear errors before anything is sent, and the archive is untouched.
func TestS3Errors(t *testing.T) {
	f := newFixture(t, 5)
	srv := s3test.Start(t, "mail")
	opts := replicate.S3Options{Endpoint: srv.Endpoint, Bucket: "mail", AccessKey: s3test.AccessKey, SecretKey: "wrong"}
	_, err := replicate.NewS3(t.Context(), opts, "alice")
	if !errors.Is(err, replicate.ErrAccess) {
		t.Errorf("wrong secret key: %v", err)
	}
	opts.SecretKey, opts.Bucket = s3test.SecretKey, "nosuch"
	if _, err = replicate.NewS3(t.Context(), opts, "alice"); err == nil || !strings.Contains(err.Error(), `bucket "nosuch" does not exist`) {
		t.Errorf("missing bucket: %v", err)
	}
	opts.Bucket = "mail"
	st, err := replicate.NewS3(t.Context(), opts, "alice")
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	_, err = replicate.Run(t.Context(), f.root, "alice", st, replicate.Options{})
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("endpoint down: %v", err)
	}
	if _, err := replicate.NewS3(t.Context(), opts, "alice"); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("endpoint down: %v", err)
	}
	a, err := archive.OpenWriter(t.Context(), f.root, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if rep, err := a.Verify(t.Context(), archive.VerifyOptions{}); err != nil || len(rep.Problems) > 0 || rep.Messages != f.n {
		t.Fatalf("archive after the failures: %v %+v", err, rep)
	}
}

// TestS3Stall: a server that accepts connections and never answers fails
// the run after the timeout instead of hanging it.
func TestS3Stall(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, silent
		}
	}()
	start := time.Now()
	_, err = replicate.NewS3(t.Context(), replicate.S3Options{Endpoint: "http://" + l.Addr().String(), Bucket: "mail",
		AccessKey: "a", SecretKey: "s", Timeout: 200 * time.Millisecond}, "alice")
	if err == nil || !strings.Contains(err.Error(), "timeout") || time.Since(start) > 20*time.Second {
		t.Fatalf("silent server: %v after %v", err, time.Since(start))
	}
}
