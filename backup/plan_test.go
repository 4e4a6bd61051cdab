package backup

import (
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/mailkeep/mailkeep/archive"
)

func TestPlan(t *testing.T) {
	status := func(msgs, uidnext uint32, modseq uint64) *imap.StatusData {
		return &imap.StatusData{NumMessages: &msgs, UIDNext: imap.UID(uidnext), UIDValidity: 7, HighestModSeq: modseq}
	}
	sized := func(msgs, uidnext uint32, size int64) *imap.StatusData {
		st := status(msgs, uidnext, 6)
		st.Size = &size
		return st
	}
	known := func(name string, msgs, uidnext uint32) archive.FolderState {
		return archive.FolderState{ID: 1, Name: name, UIDValidity: 7, UIDNext: uidnext, HighestModSeq: 5, Messages: msgs}
	}
	cases := []struct {
		name    string
		folders []serverFolder
		known   []archive.FolderState
		order   []string
		conns   int
	}{
		{"first run", []serverFolder{{name: "a", status: status(10, 11, 5)}, {name: "b", status: status(900, 901, 5)},
			{name: "c", status: status(300, 301, 5)}}, nil, []string{"b", "c", "a"}, 3},
		{"nothing changed", []serverFolder{{name: "a", status: status(10, 11, 5)}, {name: "b", status: status(20, 21, 5)}},
			[]archive.FolderState{known("a", 10, 11), known("b", 20, 21)}, []string{"a", "b"}, 1},
		{"+100 in three folders", []serverFolder{{name: "a", status: status(70, 171, 6)}, {name: "b", status: status(20, 121, 6)},
			{name: "c", status: status(10, 111, 6)}, {name: "d", status: status(5, 6, 5)}},
			[]archive.FolderState{known("a", 0, 101), known("b", 0, 101), known("c", 0, 101), known("d", 5, 6)},
			[]string{"a", "b", "c", "d"}, 1},
		{"one folder, much new mail", []serverFolder{{name: "a", status: status(5000, 5001, 6)}},
			[]archive.FolderState{known("a", 0, 1)}, []string{"a"}, 1},
		{"flags only, no CONDSTORE", []serverFolder{{name: "a", status: status(3000, 3001, 0)}, {name: "b", status: status(3000, 3001, 0)}},
			[]archive.FolderState{known("a", 3000, 3001), known("b", 3000, 3001)}, []string{"a", "b"}, 1},
		{"first run, by bytes (STATUS=SIZE)", []serverFolder{{name: "many small", status: sized(1000, 1001, 5<<20)},
			{name: "big", status: sized(100, 101, 40<<20)}, {name: "middle", status: sized(50, 51, 20<<20)}},
			nil, []string{"big", "middle", "many small"}, 3},
		{"+N by the folders' mean size", []serverFolder{{name: "few tiny", status: sized(2000, 1501, 2000<<10)},
			{name: "attachments", status: sized(1000, 1021, 1000<<20)}},
			[]archive.FolderState{known("few tiny", 1500, 1001), known("attachments", 980, 1001)}, []string{"attachments", "few tiny"}, 2},
		{"two folders without LIST-STATUS", []serverFolder{{name: "a"}, {name: "b"}},
			[]archive.FolderState{known("a", 1, 2), known("b", 1, 2)}, []string{"a", "b"}, 2},
		{"a SIZE near the top of the range", []serverFolder{{name: "small", status: sized(10, 11, 1<<20)},
			{name: "huge", status: sized(1, 2, 1<<63-1)}, {name: "grown", status: sized(1, 1<<31, 1<<62)}},
			[]archive.FolderState{known("grown", 1, 1)}, []string{"huge", "grown", "small"}, 3},
		{"+N of small messages by STATUS=SIZE", []serverFolder{{name: "a", status: sized(1100, 1101, 8<<20)}},
			[]archive.FolderState{known("a", 100, 101)}, []string{"a"}, 1},
		{"no LIST-STATUS", []serverFolder{{name: "a"}, {name: "b"}, {name: "c"}},
			[]archive.FolderState{known("a", 1, 2), known("b", 1, 2), known("c", 1, 2)}, []string{"a", "b", "c"}, 3},
	}
	for _, tc := range cases {
		got, n := plan(tc.folders, tc.known, Options{Connections: 4})
		var order []string
		for _, f := range got {
			order = append(order, f.name)
		}
		if n != tc.conns || len(order) != len(tc.order) {
			t.Errorf("%s: %d connections, order %v; want %d, %v", tc.name, n, order, tc.conns, tc.order)
			continue
		}
		for i := range order {
			if order[i] != tc.order[i] {
				t.Errorf("%s: order %v, want %v", tc.name, order, tc.order)
				break
			}
		}
	}
}
