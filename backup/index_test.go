package backup_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/index"
	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
)

// signals is a backup.Indexer that, at each signal, counts the catalog
// rows a reader sees, then passes the signal on to a real Follower.
type signals struct {
	t      *testing.T
	root   string
	name   string
	follow *index.Follower
	mu     sync.Mutex
	seen   []int
}

func (s *signals) Committed() {
	snap, err := archive.OpenSnapshot(context.Background(), s.root, s.name)
	if err != nil {
		s.t.Error(err)
		return
	}
	defer snap.Close()
	rows, err := snap.MessagesAfter(context.Background(), 0, 1<<30)
	if err != nil {
		s.t.Error(err)
	}
	s.mu.Lock()
	s.seen = append(s.seen, len(rows))
	s.mu.Unlock()
	s.follow.Committed()
}

// check closes the Follower and checks that every signal came after rows
// were committed (strictly more at each signal when one connection
// commits), and that the index holds every archived message.
func (s *signals) check(want, batches int, strict bool) {
	t := s.t
	st, err := s.follow.Close(t.Context())
	if err != nil || st.Added != want {
		t.Fatalf("follower: %+v, %v; want %d added", st, err, want)
	}
	if len(s.seen) < batches {
		t.Errorf("%d signals, want at least %d (one per batch)", len(s.seen), batches)
	}
	for i, n := range s.seen {
		if n == 0 || strict && i > 0 && n <= s.seen[i-1] {
			t.Errorf("signal %d saw %d catalog rows (signals saw %v)", i, n, s.seen)
		}
	}
	if last := s.seen[len(s.seen)-1]; last != want {
		t.Errorf("the last signal saw %d rows, want %d", last, want)
	}
	ix, err := index.OpenReadOnly(t.Context(), filepath.Join(s.root, s.name))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if lag, err := ix.Lag(t.Context()); err != nil || lag != 0 {
		t.Errorf("index lags by %d, %v", lag, err)
	}
	q, _ := index.Parse(`subject:"lines that begin with dots"`, time.UTC)
	if hits, err := ix.Search(t.Context(), q, index.SearchOptions{}); err != nil || len(hits) != 1 {
		t.Errorf("search: %d hits, %v", len(hits), err)
	}
}

// TestIndexDuringIMAPBackup: the index is filled during the backup, one
// signal per committed batch, and holds every message at the end.
func TestIndexDuringIMAPBackup(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	srv := dovecottest.Start(t, dovecottest.Options{})
	msgs := corpus.Generate(corpus.Options{Seed: 16, Count: 120})
	if err := corpus.Load(ctx, srv.Dial(t, "alice"), msgs); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	a, err := archive.OpenWriter(ctx, root, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	sig := &signals{t: t, root: root, name: "alice", follow: index.Follow(ctx, root, "alice", nil)}
	res, err := backup.IMAP(ctx, a, backup.Options{Dial: dialer(srv, "alice"),
		Settings: backup.Settings{BatchMessages: 16, Index: sig}})
	if err != nil || res.Stats.NewMessages != len(msgs) {
		t.Fatalf("backup: %+v, %v", res, err)
	}
	sig.check(len(msgs), len(msgs)/16, false)
}

// TestIndexDuringPOP3Backup: POP3 accounts are indexed the same way.
func TestIndexDuringPOP3Backup(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	srv := dovecottest.Start(t, dovecottest.Options{})
	_, msgs := inboxCorpus(23, 50, 0)
	load(t, srv, "bob", msgs)
	root := t.TempDir()
	a, err := archive.OpenWriter(ctx, root, pop3Account, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	sig := &signals{t: t, root: root, name: pop3Account, follow: index.Follow(ctx, root, pop3Account, nil)}
	opts := dovecotOptions(srv, "bob", &counter{})
	opts.BatchMessages, opts.Index = 7, sig
	res, err := backup.POP3(ctx, a, opts)
	if err != nil || res.Stats.NewMessages != len(msgs) {
		t.Fatalf("backup: %+v, %v", res, err)
	}
	sig.check(len(msgs), len(msgs)/7, true)
}
