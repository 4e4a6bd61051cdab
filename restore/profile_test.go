package restore_test

import (
	"cmp"
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
	"github.com/mailkeep/mailkeep/restore"
	"github.com/mailkeep/mailkeep/transport"
)

// BenchmarkRestore profiles a restore in-process: a generated corpus of
// 1,000 messages and one of 4 MiB, backed up from a Dovecot it starts, is
// restored into an emptied account of the same Dovecot. For example
//
//	go test -run '^$' -bench Restore -benchtime 5x -cpuprofile cpu.prof ./restore
//	go tool pprof -top -focus 'restore.Run|imapclient' cpu.prof
//
// BENCH_ARCHIVE=ROOT restores the account alice of that archive instead,
// into the account BENCH_USER (password BENCH_PASS) of the server at
// BENCH_IMAP_ADDR, which it empties before each restore: for the
// benchmark's archive and server (bench/README.md), from the project root,
//
//	BENCH_ARCHIVE=/tmp/mailkeep-bench/small/work/mailkeep-restore/source \
//	  BENCH_IMAP_ADDR=127.0.0.1:11143 BENCH_USER=carol BENCH_PASS=secret-carol \
//	  go test -run '^$' -bench Restore -benchtime 5x -cpuprofile cpu.prof ./restore
func BenchmarkRestore(b *testing.B) {
	root, dial, target := benchRestoreSource(b)
	var bytes int64
	for b.Loop() {
		b.StopTimer()
		empty(b, target)
		b.StartTimer()
		res, err := restore.Run(context.Background(), root, "alice", restore.Options{Dial: dial})
		if err != nil || res.Appended == 0 || res.Skipped != 0 {
			b.Fatalf("restore: %+v, %v", res, err)
		}
		bytes = res.Bytes
	}
	b.SetBytes(bytes)
}

// benchRestoreSource returns the archive to restore, a dialer for the
// target account and a client of it.
func benchRestoreSource(b *testing.B) (string, transport.IMAPDialer, *imapclient.Client) {
	if root := os.Getenv("BENCH_ARCHIVE"); root != "" {
		dial := dialer(os.Getenv("BENCH_IMAP_ADDR"), os.Getenv("BENCH_USER"), os.Getenv("BENCH_PASS"))
		c, err := dial(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		return root, dial, c
	}
	srv := dovecottest.Start(b, dovecottest.Options{})
	msgs := corpus.Generate(corpus.Options{Seed: 31, Count: 1000, Big: 4 << 20})
	if err := corpus.Load(b.Context(), srv.Dial(b, "alice"), msgs); err != nil {
		b.Fatal(err)
	}
	root := b.TempDir()
	backupAccount(b, mserver{name: "Dovecot", addr: srv.IMAPAddr, password: srv.Password}, root, "alice")
	return root, userDialer(srv, "carol"), srv.Dial(b, "carol")
}

// empty deletes every folder of c's account but INBOX, and INBOX's messages.
func empty(b *testing.B, c *imapclient.Client) {
	b.Helper()
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		b.Fatal(err)
	}
	slices.SortFunc(list, func(x, y *imap.ListData) int { // children first
		return cmp.Compare(strings.Count(y.Mailbox, "/"), strings.Count(x.Mailbox, "/"))
	})
	for _, l := range list {
		if l.Mailbox != "INBOX" && !slices.Contains(l.Attrs, imap.MailboxAttrNoSelect) &&
			!slices.Contains(l.Attrs, imap.MailboxAttrNonExistent) {
			if err := c.Delete(l.Mailbox).Wait(); err != nil {
				b.Fatal(err)
			}
		}
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		b.Fatal(err)
	}
	if sel.NumMessages > 0 {
		all := imap.SeqSet{{Start: 1, Stop: 0}}
		if err := c.Store(all, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
			b.Fatal(err)
		}
		if err := c.Expunge().Close(); err != nil {
			b.Fatal(err)
		}
	}
	if err := c.Unselect().Wait(); err != nil {
		b.Fatal(err)
	}
}
