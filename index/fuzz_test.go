package index

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzParse: no query string panics the parser; a parsed query spells
// itself so that it reads back the same; and its SQL runs.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"invoice", `from:alice subject:"a b" -flag:seen`, "(a OR b) c",
		"folder:Archive/* after:2020-01-01 before:2021-01-01T00:00:00Z", "larger:10k smaller:1G gone:no",
		"attachment:*.pdf message-id:<a@b>", "会议 OR 東京*", `"x"* NOT (y AND z)`, "-(a b) OR c", "kiwi -(contract zeppelins)",
		"(kiwi OR walrus) -(contract OR colin) folder:INBOX", "invoice OR -flag:seen quokka"} {
		f.Add(s)
	}
	fx := fullFixture(f)
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse(s, time.UTC)
		if err != nil {
			var qe *QueryError
			if !errors.As(err, &qe) {
				t.Fatalf("Parse(%q): %v is no QueryError", s, err)
			}
			return
		}
		again, err := Parse(q.String(), time.UTC)
		if err != nil {
			if strings.Contains(err.Error(), "nested deeper") || strings.Contains(err.Error(), "longer than") {
				return // the spelling adds parentheses and spells dates in full
			}
			t.Fatalf("Parse(%q).String() = %q: %v", s, q.String(), err)
		}
		if again.String() != q.String() {
			t.Fatalf("Parse(%q): %q reads back as %q", s, q.String(), again.String())
		}
		hits, err := fx.ix.Search(context.Background(), q, SearchOptions{Limit: -1})
		if err != nil {
			t.Fatalf("Search(%q): %v", q.String(), err)
		}
		where, args := (&compiler{plain: true}).where(q)
		want, err := fx.ix.search(context.Background(), where, args, -1)
		if err != nil {
			t.Fatalf("plain search(%q): %v", q.String(), err)
		}
		if got, want := hitIDs(hits), hitIDs(want); !slices.Equal(got, want) {
			t.Fatalf("Search(%q) = %v, plain SQL gives %v", q.String(), got, want)
		}
	})
}

func hitIDs(hits []Hit) []int64 {
	ids := make([]int64, len(hits))
	for i, h := range hits {
		ids[i] = h.ID
	}
	return ids
}
