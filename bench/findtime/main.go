// Command findtime times mailkeep's search in one process, warm: what
// `mailkeep find` spends on the query itself, without starting a process,
// reading the config and opening the archive. bench/search.py runs it
// beside the commands.
//
//	findtime -dir ARCHIVE/ACCOUNT -runs 10 QUERY...
//
// It prints one JSON object per query: query, runs, median_ms, min_ms,
// max_ms, hits.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"os"
	"slices"
	"time"

	"github.com/mailkeep/mailkeep/index"
)

func main() {
	dir := flag.String("dir", "", "the account's archive directory")
	runs := flag.Int("runs", 10, "timed runs per query, after one to warm up")
	flag.Parse()
	ctx := context.Background()
	ix, err := index.OpenReadOnly(ctx, *dir)
	if err != nil {
		log.Fatal(err)
	}
	defer ix.Close()
	enc := json.NewEncoder(os.Stdout)
	for _, s := range flag.Args() {
		q, err := index.Parse(s, time.Local)
		if err != nil {
			log.Fatal(err)
		}
		var ms []float64
		var hits int
		for i := 0; i <= *runs; i++ {
			t0 := time.Now()
			h, err := ix.Search(ctx, q, index.SearchOptions{})
			if err != nil {
				log.Fatal(err)
			}
			if i > 0 {
				ms = append(ms, float64(time.Since(t0).Microseconds())/1000)
			}
			hits = len(h)
		}
		slices.Sort(ms)
		enc.Encode(map[string]any{"query": s, "runs": len(ms), "median_ms": ms[len(ms)/2],
			"min_ms": ms[0], "max_ms": ms[len(ms)-1], "hits": hits})
	}
}
