package serve_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/serve"
)

// TestBackupWhileServing: a client fetches every message of every folder,
// again and again, while a backup stores new messages, flag changes and
// deletions: both succeed, and every message the client gets is one the
// server had. A session that selected INBOX before the backup (and its
// closing checkpoint) keeps its view: the same UIDs, flags and bytes, even
// of messages since renamed or deleted on the server; a new SELECT shows
// the new state.
func TestBackupWhileServing(t *testing.T) {
	t.Parallel()
	opts := corpus.Options{Seed: 12, Count: 300}
	src := newSource(t, corpus.Generate(opts))
	sv := startServe(t, src.root, serve.Options{Accounts: []string{src.user}})

	old := sv.dial(t, src.user)
	before := snapshotInbox(t, old, true)

	dc := src.dovecot.Dial(t, src.user)
	known := knownBodies(t, dc)
	more := corpus.More(opts, 100, 0)
	if err := corpus.Load(context.Background(), dc, more); err != nil {
		t.Fatal(err)
	}
	for _, m := range more {
		known[sha256.Sum256(m.Raw)] = true
	}
	if _, err := dc.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := dc.Store(imap.SeqSet{{Start: 1, Stop: 30}}, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
		Flags: []imap.Flag{imap.FlagFlagged, "Renamed-Later"}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	expungeFirst(t, dc, "INBOX", 5)

	var stop atomic.Bool
	var wg sync.WaitGroup
	var passes atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := sv.dial(t, src.user)
		for n := 0; n < 2 || !stop.Load(); n++ {
			for _, body := range fetchEverything(t, c) {
				if !known[sha256.Sum256(body)] {
					t.Errorf("served a message the server never had (%d bytes)", len(body))
					return
				}
			}
			passes.Add(1)
		}
	}()
	res := src.backup(t) // run 2, closes its catalog: WAL checkpointed and truncated
	stop.Store(true)
	wg.Wait()
	if res.Stats.NewMessages != 100 || res.Stats.Gone != 5 || res.Stats.FlagUpdates < 25 {
		t.Errorf("the backup beside serve: %+v", res.Stats)
	}
	t.Logf("%d passes over the whole archive while the backup ran", passes.Load())

	if after := snapshotInbox(t, old, false); !slices.Equal(after, before) {
		t.Errorf("the session selected before the backup changed its view:\n%s", diffLines(after, before))
	}
	if err := old.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := old.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if want := uint32(len(before)) - 5 + countIn(more, "INBOX"); sel.NumMessages != want {
		t.Errorf("a new SELECT shows %d messages, want %d", sel.NumMessages, want)
	}
}

// snapshotInbox fetches UID, flags and body hash of every INBOX message,
// selecting INBOX first when sel is set.
func snapshotInbox(t *testing.T, c *imapclient.Client, sel bool) []string {
	t.Helper()
	if sel {
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		out = append(out, fmt.Sprintf("%d %x %s", m.UID, sha256.Sum256(m.FindBodySection(&imap.FetchItemBodySection{Peek: true})),
			flagText(m.Flags)))
	}
	return out
}

func flagText(flags []imap.Flag) string {
	var s []string
	for _, f := range flags {
		s = append(s, string(f))
	}
	slices.Sort(s)
	return strings.Join(s, " ")
}

// knownBodies hashes every message of the account.
func knownBodies(t *testing.T, c *imapclient.Client) map[[32]byte]bool {
	t.Helper()
	out := map[[32]byte]bool{}
	for _, body := range fetchEverything(t, c) {
		out[sha256.Sum256(body)] = true
	}
	return out
}

// fetchEverything fetches every message of every folder.
func fetchEverything(t *testing.T, c *imapclient.Client) [][]byte {
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Error(err)
		return nil
	}
	var out [][]byte
	for _, l := range list {
		if slices.Contains(l.Attrs, imap.MailboxAttrNoSelect) {
			continue
		}
		sel, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			t.Error(err)
			return nil
		}
		if sel.NumMessages == 0 {
			continue
		}
		msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{
			BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
		if err != nil {
			t.Errorf("fetch %s: %v", l.Mailbox, err)
			return nil
		}
		for _, m := range msgs {
			out = append(out, m.FindBodySection(&imap.FetchItemBodySection{Peek: true}))
		}
	}
	return out
}

func countIn(msgs []corpus.Message, folder string) uint32 {
	var n uint32
	for _, m := range msgs {
		if m.Folder == folder {
			n++
		}
	}
	return n
}
