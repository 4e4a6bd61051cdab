package index

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	day := func(s string) time.Time { d, _ := time.ParseInLocation(time.DateOnly, s, time.UTC); return d }
	tests := []struct {
		in   string
		want Node
	}{
		{"invoice", Text{Value: "invoice"}},
		{`"cafe au lait"`, Text{Value: "cafe au lait", Phrase: true}},
		{"invo*", Text{Value: "invo", Prefix: true}},
		{`"au la"*`, Text{Value: "au la", Phrase: true, Prefix: true}},
		{"re:", Text{Value: "re:"}},
		{"10:30", Text{Value: "10:30"}},
		{`"form:alice"`, Text{Value: "form:alice", Phrase: true}},
		{"FROM:alice", Text{Field: FieldFrom, Value: "alice"}},
		{`subject:"a b"`, Text{Field: FieldSubject, Value: "a b", Phrase: true}},
		{"message-id:<a@b>", MessageID{ID: "a@b"}},
		{"folder:Archive/*", Folder{Pattern: "Archive/*"}},
		{`folder:"My Mail"`, Folder{Pattern: "My Mail"}},
		{"flag:Seen", Flag{Name: `\Seen`}},
		{"flag:$Junk", Flag{Name: "$Junk"}},
		{"attachment:*.PDF", Attachment{Name: "PDF"}},
		{"after:2020-01-02", Date{T: day("2020-01-02")}},
		{"before:2020-01-02T03:04:05Z", Date{Before: true, T: time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)}},
		{"larger:10k", Size{Larger: true, Bytes: 10240}},
		{"smaller:2MB", Size{Bytes: 2 << 20}},
		{"smaller:1GiB", Size{Bytes: 1 << 30}},
		{"gone:yes", Gone{Yes: true}},
		{"a b", And{Terms: []Node{Text{Value: "a"}, Text{Value: "b"}}}},
		{"a AND b", And{Terms: []Node{Text{Value: "a"}, Text{Value: "b"}}}},
		{"a b OR c", Or{Terms: []Node{And{Terms: []Node{Text{Value: "a"}, Text{Value: "b"}}}, Text{Value: "c"}}}},
		{"a (b OR c)", And{Terms: []Node{Text{Value: "a"}, Or{Terms: []Node{Text{Value: "b"}, Text{Value: "c"}}}}}},
		{"-a", Not{Term: Text{Value: "a"}}},
		{"NOT a", Not{Term: Text{Value: "a"}}},
		{"-(a OR b)", Not{Term: Or{Terms: []Node{Text{Value: "a"}, Text{Value: "b"}}}}},
		{"e-mail", Text{Value: "e-mail"}},
		{"a - b", nil}, // see TestBadQueries
	}
	for _, tt := range tests {
		if tt.want == nil {
			continue
		}
		q, err := Parse(tt.in, time.UTC)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(q.Root, tt.want) {
			t.Errorf("Parse(%q) = %#v, want %#v", tt.in, q.Root, tt.want)
		}
		again, err := Parse(q.String(), time.UTC)
		if err != nil || !reflect.DeepEqual(again.Root, q.Root) {
			t.Errorf("Parse(%q).String() = %q reads back as %#v, %v", tt.in, q.String(), again.Root, err)
		}
	}
}

func TestBadQueries(t *testing.T) {
	for in, term := range map[string]string{
		"from:":                 "from:",
		"form:alice":            "form:alice",
		`subject:"unclosed`:     `subject:"unclosed`,
		"(a OR b":               "(",
		"a OR":                  "OR",
		"OR a":                  "OR",
		"AND a":                 "AND",
		"a )":                   ")",
		"()":                    "()",
		"after:yesterday":       "after:yesterday",
		"before:2020-13-01":     "before:2020-13-01",
		"larger:10Q":            "larger:10Q",
		"larger:0.5k":           "larger:0.5k",
		"smaller:99999999999G":  "smaller:99999999999G",
		"gone:maybe":            "gone:maybe",
		"!!!":                   "!!!",
		"a - b":                 "-",
		"subject:--":            "subject:--",
		"attachment:*":          "attachment:*",
		"message-id:<>":         "message-id:<>",
		"-":                     "-",
		"a NOT":                 "NOT",
		strings.Repeat("(", 40): "(",
	} {
		_, err := Parse(in, time.UTC)
		var qe *QueryError
		if !errors.As(err, &qe) {
			t.Errorf("Parse(%q): %v, want a QueryError", in, err)
			continue
		}
		if qe.Term != term {
			t.Errorf("Parse(%q): term %q (%v), want %q", in, qe.Term, err, term)
		}
	}
	if _, err := Parse(strings.Repeat("a ", maxQueryTerms+1), nil); err == nil {
		t.Error("too many terms: no error")
	}
	if _, err := Parse(strings.Repeat("a", maxQueryLen+1), nil); err == nil {
		t.Error("too long: no error")
	}
}

// TestCompileBindsText checks that no user text reaches the SQL itself.
func TestCompileBindsText(t *testing.T) {
	q, err := Parse(`x'; DROP TABLE docs; from:"x' OR 1=1" folder:a'b flag:"' OR '" attachment:x'y message-id:"'"`, nil)
	if err != nil {
		t.Fatal(err)
	}
	where, args := compile(q)
	if strings.ContainsAny(where, `'"`) && strings.Contains(where, "DROP") {
		t.Errorf("user text in SQL: %s", where)
	}
	if strings.Contains(where, "DROP") || strings.Contains(where, "1=1") || len(args) == 0 {
		t.Errorf("where %s args %v", where, args)
	}
}
