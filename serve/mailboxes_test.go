package serve

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/archive"
)

func testTree(names ...string) *tree {
	var folders []archive.ViewFolder
	for i, n := range names {
		folders = append(folders, archive.ViewFolder{FolderState: archive.FolderState{ID: int64(i + 1), Name: n, Delim: "/"}})
	}
	return newTree(folders)
}

func TestTree(t *testing.T) {
	tr := testTree("Inbox", "Archive/2024/Q1", "Sent", "mailkeep")
	var got []string
	for _, b := range tr.boxes {
		got = append(got, b.name+" "+strings.Join(attrNames(b), ","))
	}
	want := []string{
		`Archive \Noselect,\HasChildren`,
		`Archive/2024 \Noselect,\HasChildren`,
		`Archive/2024/Q1 \HasNoChildren`,
		`INBOX \HasNoChildren`,
		`Sent \HasNoChildren`,
		`mailkeep \HasChildren`,
		`mailkeep/Gone \HasNoChildren`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("tree\n%q\nwant\n%q", got, want)
	}
	if b := tr.lookup("inbox"); b == nil || b.folder.Name != "Inbox" {
		t.Errorf("lookup(inbox) = %+v", b)
	}
	if b := tr.lookup("mailkeep"); b == nil || b.noselect || b.folder == nil {
		t.Errorf("the account's own folder mailkeep: %+v", b)
	}
	if _, err := tr.selectable("Archive"); err == nil {
		t.Error("a \\Noselect level could be selected")
	}
	if got := goneOf(testTree("mailkeep/Gone", "mailkeep/Gone-2")); got != "mailkeep/Gone-3" {
		t.Errorf("Gone beside the account's own mailkeep/Gone and Gone-2: %s", got)
	}
	if got := goneOf(newTree(nil)); got != "mailkeep/Gone" {
		t.Errorf("Gone of an account without folders: %s", got)
	}
}

func goneOf(tr *tree) string {
	for _, b := range tr.boxes {
		if b.gone {
			return b.name
		}
	}
	return ""
}

func attrNames(b *mailbox) []string {
	var out []string
	for _, a := range b.attrs() {
		out = append(out, string(a))
	}
	return out
}

func TestMatcher(t *testing.T) {
	tr := testTree("INBOX", "INBOX/a", "Archive", "Archive/2024", "Archive/2024/Q1", "R&D", "a.b*c")
	tests := []struct {
		ref, pattern string
		want         []string
	}{
		{"", "*", []string{"Archive", "Archive/2024", "Archive/2024/Q1", "INBOX", "INBOX/a", "R&D", "a.b*c", "mailkeep", "mailkeep/Gone"}},
		{"", "%", []string{"Archive", "INBOX", "R&D", "a.b*c", "mailkeep"}},
		{"", "Archive/%", []string{"Archive/2024"}},
		{"Archive/", "%", []string{"Archive/2024"}},
		{"", "*2024*", []string{"Archive/2024", "Archive/2024/Q1"}},
		{"", "inbox/%", []string{"INBOX/a"}},
		{"", "a.b*", []string{"a.b*c"}},
		{"", "R&D", []string{"R&D"}},
		{"", "%/%/%", []string{"Archive/2024/Q1"}},
	}
	for _, tt := range tests {
		m, err := newMatcher(tr, tt.ref, []string{tt.pattern})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range tr.boxes {
			if m.match(b.name) {
				got = append(got, b.name)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("LIST %q %q = %q, want %q", tt.ref, tt.pattern, got, tt.want)
		}
	}
	// A pattern that backtracking matchers take exponential time over.
	start := time.Now()
	m, err := newMatcher(tr, "", []string{strings.Repeat("*a", 2000) + "b"})
	if err == nil {
		m.match(strings.Repeat("a", 1000))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a hostile pattern took %v", d)
	}
}
