package index

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSearchCorpus(t *testing.T) {
	fx := fullFixture(t)
	inbox := []string{"plain", "latin1", "sjis", "gb2312", "nested", "noheaders", "garbage", "cjk", "big"}
	seen := []string{"plain", "latin1", "cp1252", "sjis", "html_only", "nested", "accents"}
	toAlice := except("plain", "nested", "noheaders", "garbage")
	tests := []struct {
		query string
		want  []string
	}{
		{"invoice", sorted("plain")},
		{"INVOICE", sorted("plain")},
		{"invo*", sorted("plain")},
		{"from:alice", sorted("plain", "nested")},
		{"from:alice@example.com", sorted("plain", "nested")},
		{"to:alice", sorted(toAlice...)},
		{"to:carol", sorted("nested")},
		{"cc:carol", sorted("latin1")},
		{"cc:dave", sorted("nested")},
		{"subject:resume", sorted("latin1")},
		{"resume", sorted("latin1")},
		{"creme brulee", sorted("latin1")},
		{`"cafe au lait"`, sorted("latin1")},
		{`"lait au cafe"`, nil},
		{"munchen", sorted("cp1252")},
		{"MÜNCHEN grüße", sorted("cp1252")},
		{"subject:strassenbau OR subject:straßenbau", sorted("cp1252")},
		{"from:иван", sorted("koi8r")},
		{"встреча", sorted("koi8r")},
		{"subject:отчёт", sorted("koi8r")},
		{"会議", sorted("sjis")},
		{"議事録", sorted("sjis")},
		{"会议", sorted("cjk")},
		{"subject:会议纪要", sorted("cjk")},
		{"预算", sorted("gb2312", "rfc2231")},
		{"東京タワー", sorted("cjk")},
		{"会", sorted("sjis", "cjk", "gb2312")},
		{"from:李明", sorted("cjk")},
		{"kiwi", sorted("nested")},
		{"dragonfruit", sorted("nested")},
		{"elephantword", nil},
		{"forecast", sorted("html_only")},
		{"ete bargains", sorted("html_only")},
		{"scriptword OR stylewo OR titleword OR commentword", nil},
		{"reunion zurich", sorted("accents")},
		{"from:jose nunez", sorted("accents")},
		{"zeppelins", sorted("noheaders")},
		{"walrus", sorted("garbage")},
		{"quokka", sorted("badcharset")},
		{"platypus", sorted("badbase64")},
		{"aardvark", sorted("big")},
		{"attachment:pdf", sorted("nested")},
		{"attachment:*.pptx", sorted("rfc2231")},
		{"attachment:presentation", sorted("rfc2231")},
		{`attachment:"grüße photo.png"`, sorted("rfc2231")},
		{"attachment:zip", sorted("big")},
		{"attachment:预算表.xlsx", sorted("rfc2231")},
		{"message-id:<invoice-2019-04@example.com>", sorted("plain")},
		{"message-id:invoice-2019-04@example.com", sorted("plain")},
		{"message-id:invoice", nil},
		{"folder:INBOX", sorted(inbox...)},
		{"folder:inbox", sorted(inbox...)},
		{"folder:Archive/*", sorted("cp1252", "koi8r", "accents")},
		{"folder:*20*", sorted("cp1252", "koi8r", "accents")},
		{"folder:Entwürfe", sorted("rfc2231")},
		{"folder:Archive", nil},
		{"flag:seen", sorted(seen...)},
		{"-flag:seen", except(seen...)},
		{"flag:flagged", sorted("latin1")},
		{`flag:\Answered`, sorted("sjis")},
		{"flag:draft", sorted("rfc2231")},
		{"flag:deleted", sorted("badcharset")},
		{"flag:$forwarded", sorted("nested")},
		{"flag:important", sorted("cjk")},
		{"after:2021-01-01 before:2021-02-01", sorted("sjis")},
		{"after:2021-02-01 before:2021-02-02", sorted("gb2312")},
		{"after:2021-02-01T01:00:00Z before:2021-02-01T01:00:01Z", sorted("gb2312")},
		{"before:2021-02-01T01:00:00Z after:2021-01-15", sorted("sjis")},
		{"before:2020-01-01", sorted("plain")},
		{"after:2022-01-08", sorted("badbase64", "big")},
		{"larger:1M", sorted("big")},
		{"smaller:300", sorted("noheaders", "garbage", "badcharset", "gb2312")},
		{"gone:yes", sorted("html_only")},
		{"gone:no", except("html_only")},
		{"invoice OR quokka", sorted("plain", "badcharset")},
		{"(kiwi OR walrus) -flag:seen", sorted("garbage")},
		{"from:alice -attachment:pdf", sorted("plain")},
		{"contract AND attachment:pdf", sorted("nested")},
		{"-invoice", except("plain")},
		{"NOT invoice -walrus", except("plain", "garbage")},
		{`subject:"Contract and lunch"`, sorted("nested")},
		{"from:mallory subject:platypus OR subject:quokka", sorted("badbase64")},
		{"from:mallory (subject:platypus OR quokka)", sorted("badbase64", "badcharset")},
		{"larger:1M OR gone:yes", sorted("html_only", "big")},
		{"-(flag:seen OR flag:draft) folder:INBOX", sorted("gb2312", "noheaders", "garbage", "cjk", "big")},
		{"kiwi OR (folder:Junk -quokka)", sorted("nested", "badbase64")},
		{"kiwi -(contract lunch)", nil},
		{"zeppelins (kiwi OR walrus)", nil},
		{"walrus (kiwi OR colin)", sorted("garbage")},
		{"kiwi -(contract zeppelins)", sorted("nested")},
		{"kiwi -contract -zeppelins", nil},
		{"(kiwi OR walrus) -(contract OR colin)", nil},
		{"(kiwi OR walrus) -(contract colin)", sorted("nested", "garbage")},
		{"", except()},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, err := Parse(tt.query, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			hits, err := fx.ix.Search(ctx, q, SearchOptions{Limit: -1})
			if err != nil {
				t.Fatal(err)
			}
			if got := fx.hitNames(t, hits); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSearchHit(t *testing.T) {
	fx := fullFixture(t)
	hits := search(t, fx, "invoice OR platypus OR folder:Newsletters OR from:ivan", SearchOptions{})
	if len(hits) != 4 {
		t.Fatalf("got %d hits", len(hits))
	}
	for i := 1; i < len(hits); i++ {
		if hits[i].Date.After(hits[i-1].Date) {
			t.Errorf("hits not newest first: %v after %v", hits[i].Date, hits[i-1].Date)
		}
	}
	h := hits[3]
	want := Hit{ID: fx.names["plain"], Handle: fx.handle(t, "plain"), Folder: "INBOX",
		Date: time.Date(2019, 4, 15, 8, 0, 0, 0, time.UTC), From: "Alice Example <alice@example.com>",
		Subject: "Invoice 2019-04 for services", MessageID: "<invoice-2019-04@example.com>", Size: 351,
		Flags: []string{`\Seen`}}
	if !h.Date.Equal(want.Date) || h.ID != want.ID || h.Handle != want.Handle || h.Folder != want.Folder ||
		h.From != want.From || h.Subject != want.Subject || h.MessageID != want.MessageID || h.Size != want.Size ||
		!slices.Equal(h.Flags, want.Flags) || h.Gone || h.ServerDeleted {
		t.Errorf("hit\n%+v, want\n%+v", h, want)
	}
	if !hits[1].Gone || hits[1].Folder != "Newsletters" {
		t.Errorf("html_only: %+v", hits[1])
	}
	if hits[2].Gone || !hits[2].ServerDeleted {
		t.Errorf("koi8r: %+v", hits[2])
	}
	if hits[0].Undecodable == "" {
		t.Errorf("badbase64 has no note: %+v", hits[0])
	}
	if got := search(t, fx, "", SearchOptions{Limit: 3}); len(got) != 3 || got[0].ID != fx.names["big"] {
		t.Errorf("limit 3: %+v", got)
	}
	if got := search(t, fx, "", SearchOptions{}); len(got) != len(corpus) {
		t.Errorf("default limit: %d hits", len(got))
	}
}

func search(t *testing.T, fx *fixture, query string, opts SearchOptions) []Hit {
	t.Helper()
	q, err := Parse(query, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	hits, err := fx.ix.Search(context.Background(), q, opts)
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

func TestLookup(t *testing.T) {
	fx := fullFixture(t)
	ctx := context.Background()
	h := fx.handle(t, "nested")
	for _, in := range []string{h, h[:8], h[:10]} {
		id, err := fx.ix.Lookup(ctx, in)
		if err != nil || id != fx.names["nested"] {
			t.Errorf("Lookup(%s) = %d, %v", in, id, err)
		}
	}
	for in, want := range map[string]error{h[:7]: ErrBadHandle, "zzzzzzzz": ErrBadHandle, h + "0": ErrBadHandle,
		"00000000": ErrNotFound} {
		if _, err := fx.ix.Lookup(ctx, in); !errors.Is(err, want) {
			t.Errorf("Lookup(%s): %v, want %v", in, err, want)
		}
	}
}

func TestLookupAmbiguous(t *testing.T) {
	fx := fullFixture(t)
	ctx := context.Background()
	if _, err := fx.ix.db.ExecContext(ctx, `UPDATE docs SET handle = 'abcdef01' || substr(handle, 9) WHERE id IN (?, ?)`,
		fx.names["plain"], fx.names["nested"]); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.ix.Lookup(ctx, "abcdef01"); !errors.Is(err, ErrAmbiguous) {
		t.Errorf("shared prefix: %v", err)
	}
	if id, err := fx.ix.Lookup(ctx, "abcdef01"+fx.handle(t, "plain")[8:]); err != nil || id != fx.names["plain"] {
		t.Errorf("full handle: %d, %v", id, err)
	}
}

// TestFolderGlob: only * is special in a folder pattern.
func TestFolderGlob(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tt := range []struct {
		pattern, name string
		want          bool
	}{
		{"Projects [old]*", "Projects [old]/2020", true},
		{"Projects [old]*", "Projects o", false},
		{"a?b*", "a?bc", true},
		{"a?b*", "axbc", false},
		{"*", "anything", true},
		{"inbox/*", "INBOX/Sent", true},
		{"INBOXES*", "INBOXES1", true},
		{"inboxes*", "INBOXES1", false},
	} {
		c := &compiler{}
		cond := folderCond(c, tt.pattern)
		var got bool
		if err := db.QueryRow(`SELECT `+strings.Replace(cond, "f.name", "?", 1), append([]any{tt.name}, c.args...)...).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("folder:%s on %q = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}
