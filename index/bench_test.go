package index

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/archive"
)

// genVocab is a vocabulary of made-up words, drawn with a Zipf law.
var genVocab = func() []string {
	syl := []string{"ka", "lo", "mi", "ren", "tu", "sa", "vi", "dor", "pe", "qua", "nix", "bo", "le", "zan", "fi", "ru"}
	r := rand.New(rand.NewPCG(1, 2))
	words := make([]string, 5000)
	for i := range words {
		var b strings.Builder
		for range 2 + r.IntN(3) {
			b.WriteString(syl[r.IntN(len(syl))])
		}
		words[i] = fmt.Sprintf("%s%d", b.String(), i)
	}
	return words
}()

// genMessage builds message i of a synthetic mailbox: 200 senders, text
// of 100 to 1,500 words, one in ten with a base64 attachment of 20-200 KB,
// one in five HTML.
func genMessage(i int) []byte {
	r := rand.New(rand.NewPCG(uint64(i), 7))
	z := rand.NewZipf(r, 1.1, 1, uint64(len(genVocab)-1))
	word := func() string { return genVocab[z.Uint64()] }
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Person %d <p%d@example.com>\r\nTo: alice@example.com\r\nSubject: %s %s %s\r\n",
		i%200, i%200, word(), word(), word())
	fmt.Fprintf(&b, "Message-ID: <gen%d@example.com>\r\nMIME-Version: 1.0\r\n", i)
	b.WriteString("Content-Type: multipart/mixed; boundary=gb\r\n\r\n--gb\r\n")
	html := i%5 == 0
	if html {
		b.WriteString("Content-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>")
	} else {
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\n")
	}
	for j := range 100 + r.IntN(1400) {
		b.WriteString(word())
		b.WriteByte(" \n"[min(1, j%12/11)])
	}
	if html {
		b.WriteString("</p></body></html>")
	}
	b.WriteString("\r\n")
	if i%10 == 0 {
		blob := make([]byte, 20<<10+r.IntN(180<<10))
		rand.NewChaCha8([32]byte{byte(i)}).Read(blob)
		b.WriteString("--gb\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=report.pdf\r\n" +
			"Content-Transfer-Encoding: base64\r\n\r\n")
		enc := base64.StdEncoding.EncodeToString(blob)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	b.WriteString("--gb--\r\n")
	return b.Bytes()
}

// genDate spreads messages over ten years, one every four hours or so.
func genDate(i int) time.Time {
	return time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 4 * time.Hour)
}

// genSource is a Source over n generated messages in one folder.
type genSource struct {
	n int
}

func (g genSource) Messages(ctx context.Context, fn func(MessageInfo) error) error {
	for i := range g.n {
		m := MessageInfo{ID: int64(i + 1), Folder: "INBOX", Key: archive.IMAPKey(1, uint32(i+1)), Date: genDate(i)}
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

func (g genSource) Open(ctx context.Context, m MessageInfo) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(genMessage(int(m.ID - 1)))), nil
}

// genArchive writes a catalog of n generated messages and indexes them.
func genArchive(b *testing.B, n int) *Index {
	ctx := context.Background()
	dir := b.TempDir()
	cat, err := archive.OpenCatalog(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cat.Close() })
	run, _ := cat.BeginRun(ctx, "backup", time.Now())
	st, err := cat.EnsureFolder(ctx, &archive.Folder{Name: "INBOX", Delim: '/', Rel: "INBOX"}, run)
	if err != nil {
		b.Fatal(err)
	}
	var raw int64
	var batch []archive.Message
	for i := range n {
		data := genMessage(i)
		raw += int64(len(data))
		key := archive.IMAPKey(1, uint32(i+1))
		size := int64(len(data))
		batch = append(batch, archive.Message{FolderID: st.ID, UIDValidity: 1, UID: uint32(i + 1), Key: key,
			File: archive.MessageFile{Key: key, Size: size, VSize: size}.Name(), SHA256: sha256.Sum256(data),
			Size: size, VSize: size, InternalDate: genDate(i), Flags: []string{`\Seen`}, MessageID: fmt.Sprintf("<gen%d@example.com>", i)})
		if len(batch) == 1000 || i == n-1 {
			if err := cat.AddMessages(ctx, batch, run); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	ix, err := Open(ctx, dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ix.Close() })
	start := time.Now()
	if _, err := ix.Rebuild(ctx, genSource{n: n}); err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	size, _ := ix.Size()
	b.Logf("%d messages, %.1f MB: indexed in %v (%.0f msg/s), index %.1f MB = %.3f of the raw bytes",
		n, float64(raw)/1e6, took.Round(time.Millisecond), float64(n)/took.Seconds(), float64(size)/1e6, float64(size)/float64(raw))
	return ix
}

// BenchmarkSearch measures query latency on 20,000 generated messages,
// warm (BENCH_MESSAGES changes nothing; the size is the medium).
func BenchmarkSearch(b *testing.B) {
	ix := genArchive(b, 20000)
	for _, q := range []struct{ name, query string }{
		{"word", genVocab[40]},
		{"rare-word", genVocab[3000]},
		{"from", "from:p17@example.com"},
		{"date-range", "after:2019-03-01 before:2019-04-01"},
		{"word+date", genVocab[40] + " after:2019-01-01 before:2020-01-01"},
		{"phrase-or", `"` + genVocab[3] + " " + genVocab[4] + `" OR ` + genVocab[200]},
		{"attachment", "attachment:pdf larger:100k"},
	} {
		parsed, err := Parse(q.query, time.UTC)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(q.name, func(b *testing.B) {
			var hits []Hit
			for b.Loop() {
				if hits, err = ix.Search(context.Background(), parsed, SearchOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(hits)), "hits")
		})
	}
}

// BenchmarkExtract measures extraction throughput over 500 generated
// messages (a tenth with attachments, a fifth HTML).
func BenchmarkExtract(b *testing.B) {
	msgs := make([][]byte, 500)
	var total int64
	for i := range msgs {
		msgs[i] = genMessage(i)
		total += int64(len(msgs[i]))
	}
	b.SetBytes(total)
	for b.Loop() {
		for _, m := range msgs {
			if _, err := Extract(bytes.NewReader(m)); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(msgs))*float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}

// cpuTime is the process's user and system CPU time so far: steadier
// than wall time on a machine that other work shares.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// memGenSource serves generated messages from memory, so that
// BenchmarkIndex measures extraction and indexing only.
type memGenSource struct{ msgs [][]byte }

func (g memGenSource) Messages(ctx context.Context, fn func(MessageInfo) error) error {
	return genSource{n: len(g.msgs)}.Messages(ctx, fn)
}

func (g memGenSource) Open(ctx context.Context, m MessageInfo) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(g.msgs[m.ID-1])), nil
}

// BenchmarkIndex measures Rebuild (extraction and FTS5 inserts) of 2,000
// generated messages held in memory.
func BenchmarkIndex(b *testing.B) {
	src := memGenSource{msgs: make([][]byte, 2000)}
	var total int64
	for i := range src.msgs {
		src.msgs[i] = genMessage(i)
		total += int64(len(src.msgs[i]))
	}
	ix, err := Open(context.Background(), b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ix.Close()
	b.SetBytes(total)
	cpu := cpuTime()
	for b.Loop() {
		if _, err := ix.Rebuild(context.Background(), src); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(src.msgs))*float64(b.N)/b.Elapsed().Seconds(), "msg/s")
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(len(src.msgs)*b.N), "cpu-µs/msg")
}
