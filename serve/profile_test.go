package serve_test

import (
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/serve"
)

// BenchmarkFetchAll fetches every message of an archive the way the
// benchmark's client does: per folder STATUS, EXAMINE and one
// UID FETCH 1:* (UID FLAGS INTERNALDATE BODY.PEEK[]), bodies discarded.
// MAILKEEP_SERVE_ARCHIVE=<archive>:<account> names an archive (the
// benchmark's: /tmp/mailkeep-bench/small/work/serve-source/archive:alice);
// without it, a corpus is backed up from a Dovecot first.
func BenchmarkFetchAll(b *testing.B) {
	root, account, ok := strings.Cut(os.Getenv("MAILKEEP_SERVE_ARCHIVE"), ":")
	if !ok {
		src := newSource(b, corpus.Generate(corpus.Options{Seed: 15, Count: 500}))
		root, account = src.root, src.user
	}
	sv := startServe(b, root, serve.Options{Accounts: []string{account}})
	b.ResetTimer()
	var bytes int64
	for range b.N {
		r := loginRaw(b, sv.addr, account, password)
		bytes = fetchAllRaw(b, r)
		r.do("LOGOUT")
	}
	b.SetBytes(bytes)
}

func fetchAllRaw(b *testing.B, r *raw) int64 {
	list, _ := r.do(`LIST "" "*"`)
	var total int64
	for _, l := range list {
		data, err := parseData(strings.TrimPrefix(l, "* "))
		if err != nil {
			b.Fatal(err)
		}
		if strings.Contains(data[1].String(), `\Noselect`) {
			continue
		}
		name := quote(data[3].text())
		r.do("STATUS " + name + " (UIDVALIDITY UIDNEXT MESSAGES)")
		r.do("EXAMINE " + name)
		total += discardFetch(b, r, "UID FETCH 1:* (UID FLAGS INTERNALDATE BODY.PEEK[])")
	}
	return total
}

// discardFetch sends a command and reads its answer, literals to
// io.Discard, and returns the bytes of literals.
func discardFetch(b *testing.B, r *raw, cmd string) int64 {
	r.tag++
	tag := fmt.Sprintf("t%d ", r.tag)
	fmt.Fprintf(r.c, "%s%s\r\n", tag, cmd)
	var total int64
	for {
		line, err := r.r.ReadString('\n')
		if err != nil {
			b.Fatal(err)
		}
		if strings.HasPrefix(line, tag) {
			if !strings.HasPrefix(line, tag+"OK") {
				b.Fatalf("%s: %s", cmd, line)
			}
			return total
		}
		if n, ok := literalSize(line); ok {
			if _, err := io.CopyN(io.Discard, r.r, n); err != nil {
				b.Fatal(err)
			}
			total += n
		}
	}
}
