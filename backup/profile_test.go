package backup_test

import (
	"context"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
	"github.com/mailkeep/mailkeep/transport"
)

// The benchmarks below profile an IMAP backup in-process, for example
//
//	go test -run '^$' -bench IMAPFull -benchtime 5x -cpuprofile cpu.prof ./backup
//
// Against the benchmark server of bench/run.sh (see bench/README.md), set
// BENCH_IMAP_ADDR, BENCH_USER and BENCH_PASS; without them each benchmark
// starts its own Dovecot and APPENDs a small generated corpus.
// MAILKEEP_PEAK_HEAP_PROFILE=FILE writes a heap profile taken when the live
// heap was largest, which shows what a backup holds at its peak.
// BENCH_AGE=1 backs up into an encrypted archive (one age recipient).

// benchSource returns a dialer for the account to back up.
func benchSource(b *testing.B) transport.IMAPDialer {
	b.Helper()
	if addr := os.Getenv("BENCH_IMAP_ADDR"); addr != "" {
		host, port := splitAddr(addr)
		user, pass := os.Getenv("BENCH_USER"), os.Getenv("BENCH_PASS")
		ep := transport.Endpoint{Host: host, Port: port, TLS: config.TLSNone, Username: user,
			Secret: func(context.Context) (string, error) { return pass, nil }}
		return func(ctx context.Context) (*imapclient.Client, error) {
			return transport.DialIMAP(ctx, ep, transport.IMAPOptions{})
		}
	}
	srv := dovecottest.Start(b, dovecottest.Options{})
	msgs := corpus.Generate(corpus.Options{Seed: 11, Count: 400, Big: 4 << 20})
	if err := corpus.Load(b.Context(), srv.Dial(b, "alice"), msgs); err != nil {
		b.Fatal(err)
	}
	return dialer(srv, "alice")
}

func benchBackup(b *testing.B, root string, dial transport.IMAPDialer) backup.Result {
	b.Helper()
	ctx := context.Background()
	a, err := archive.OpenWriterKeys(ctx, root, "bench", nil, benchKeys(b))
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	conns, _ := strconv.Atoi(os.Getenv("BENCH_CONNECTIONS"))
	res, err := backup.IMAP(ctx, a, backup.Options{Dial: dial, Connections: conns})
	if err != nil {
		b.Fatalf("backup: %v", err)
	}
	return res
}

// benchKeys returns the keys of an encrypted archive with BENCH_AGE=1,
// else nil.
func benchKeys(b *testing.B) *archive.Keys {
	if os.Getenv("BENCH_AGE") != "1" {
		return nil
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		b.Fatal(err)
	}
	return &archive.Keys{Recipients: []age.Recipient{id.Recipient()}}
}

// BenchmarkIMAPFull times a first backup into an empty archive.
func BenchmarkIMAPFull(b *testing.B) {
	dial := benchSource(b)
	defer peakHeapProfile(b)()
	var bytes int64
	for b.Loop() {
		res := benchBackup(b, b.TempDir(), dial)
		bytes = res.Stats.NewBytes
		b.ReportMetric(float64(res.Stats.NewMessages), "msgs/op")
	}
	b.SetBytes(bytes)
}

// BenchmarkIMAPNoChange times a backup that finds nothing new.
func BenchmarkIMAPNoChange(b *testing.B) {
	dial := benchSource(b)
	root := b.TempDir()
	benchBackup(b, root, dial)
	defer peakHeapProfile(b)()
	for b.Loop() {
		if res := benchBackup(b, root, dial); res.Stats.NewMessages != 0 {
			b.Fatalf("no-change run fetched %d messages", res.Stats.NewMessages)
		}
	}
}

// BenchmarkIMAPAdd times a backup that finds 100 new messages, spread over
// the corpus's folders, in an archive that holds the rest.
func BenchmarkIMAPAdd(b *testing.B) {
	dial := benchSource(b)
	root := b.TempDir()
	benchBackup(b, root, dial)
	c, err := dial(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	opts := corpus.Options{Seed: 12, Count: 400}
	offset := 0
	for b.Loop() {
		b.StopTimer()
		if err := corpus.Load(b.Context(), c, corpus.More(opts, 100, offset)); err != nil {
			b.Fatal(err)
		}
		offset += 100
		b.StartTimer()
		if res := benchBackup(b, root, dial); res.Stats.NewMessages != 100 {
			b.Fatalf("fetched %d messages, want 100", res.Stats.NewMessages)
		}
	}
}

// peakHeapProfile starts watching the live heap when
// MAILKEEP_PEAK_HEAP_PROFILE names a file; the returned function stops,
// writes the profile taken at the largest heap, and reports that size.
func peakHeapProfile(b *testing.B) func() {
	path := os.Getenv("MAILKEEP_PEAK_HEAP_PROFILE")
	if path == "" {
		return func() {}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var peak uint64
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak+peak/20 {
				peak = ms.HeapAlloc
				writeHeapProfile(b, path)
			}
		}
	})
	return func() {
		close(stop)
		wg.Wait()
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	}
}

func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Error(err)
		return
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Error(err)
	}
}

// BenchmarkPOP3Full times a first POP3 backup into an empty archive, of
// the maildrop at BENCH_POP3_ADDR (BENCH_POP3_USER, BENCH_POP3_PASS); it is
// skipped without one.
func BenchmarkPOP3Full(b *testing.B) {
	addr := os.Getenv("BENCH_POP3_ADDR")
	if addr == "" {
		b.Skip("BENCH_POP3_ADDR is not set")
	}
	dial := pop3Dialer(addr, os.Getenv("BENCH_POP3_USER"), os.Getenv("BENCH_POP3_PASS"), nil)
	defer peakHeapProfile(b)()
	var bytes int64
	for b.Loop() {
		a, err := archive.OpenWriter(b.Context(), b.TempDir(), "bench", nil)
		if err != nil {
			b.Fatal(err)
		}
		res, err := backup.POP3(b.Context(), a, backup.POP3Options{Dial: dial})
		a.Close()
		if err != nil {
			b.Fatalf("backup: %v", err)
		}
		bytes = res.Stats.NewBytes
		b.ReportMetric(float64(res.Stats.NewMessages), "msgs/op")
	}
	b.SetBytes(bytes)
}
