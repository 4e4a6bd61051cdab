package backup

import (
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/mailkeep/mailkeep/archive"
)

func TestCertify(t *testing.T) {
	entries := func(uids ...uint32) []archive.UIDEntry {
		var out []archive.UIDEntry
		for _, u := range uids {
			out = append(out, archive.UIDEntry{UID: u})
		}
		return out
	}
	cases := []struct {
		name        string
		next        imap.UID
		from, below uint32
		known       []archive.UIDEntry
		stored      []imap.UID
		server      []imap.UID
		want        *archive.IMAPSynced // UIDValidity is always 7
	}{
		{"all known", 5, 0, 0, entries(1, 2, 3, 4), nil, []imap.UID{1, 2, 4}, &archive.IMAPSynced{UIDNext: 5, Count: 3}},
		{"empty folder", 1, 0, 0, nil, nil, nil, &archive.IMAPSynced{UIDNext: 1, Count: 0}},
		{"one not archived", 5, 0, 0, entries(1, 2), nil, []imap.UID{1, 2, 3}, nil},
		{"stored by this sync", 5, 0, 0, entries(1, 2), []imap.UID{3}, []imap.UID{1, 2, 3}, &archive.IMAPSynced{UIDNext: 5, Count: 3}},
		{"arrived after SELECT", 4, 0, 0, entries(1, 2, 3), nil, []imap.UID{1, 2, 3, 4, 5}, &archive.IMAPSynced{UIDNext: 4, Count: 3}},
		{"tail", 9, 5, 4, entries(6), []imap.UID{7, 8}, []imap.UID{6, 7, 8}, &archive.IMAPSynced{UIDNext: 9, Count: 7}},
		{"tail, one not archived", 9, 5, 4, entries(6), []imap.UID{7}, []imap.UID{6, 7, 8}, nil},
		{"a row not asked for counts for nothing", 5, 0, 0, entries(1, 2), []imap.UID{4}, []imap.UID{1, 2, 3}, nil},
		{"many, one left", 200, 0, 0, nil, uidRange(1, 150), append(uidRange(1, 150), 151), nil},
		{"many, all", 200, 0, 0, nil, uidRange(1, 151), uidRange(1, 151), &archive.IMAPSynced{UIDNext: 200, Count: 151}},
		{"no UIDNEXT", 0, 0, 0, entries(1), nil, []imap.UID{1}, nil},
		{"UIDNEXT went back", 4, 5, 4, nil, nil, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := &folderSync{sel: &imap.SelectData{UIDValidity: 7, UIDNext: tc.next}, known: tc.known,
				from: tc.from, below: tc.below}
			server := listOf(tc.server...)
			fs.todo = fs.missing(server)
			fs.done = make([]uint64, (fs.todo.len()+63)/64)
			var rows []archive.Message
			for _, u := range tc.stored {
				rows = append(rows, archive.Message{UID: uint32(u)})
			}
			fs.recorded(rows)
			got := fs.certify(server)
			if tc.want != nil {
				tc.want.UIDValidity = 7
			}
			if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
				t.Errorf("certify = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func uidRange(lo, hi imap.UID) []imap.UID {
	var out []imap.UID
	for u := lo; u <= hi; u++ {
		out = append(out, u)
	}
	return out
}

func listOf(uids ...imap.UID) uidList {
	var l uidList
	for _, u := range uids {
		l.add(u)
	}
	return l
}

func TestUIDListOf(t *testing.T) {
	const top = imap.UID(^uint32(0))
	cases := []struct {
		set   imap.UIDSet
		limit int
		want  []imap.UID
		runs  int
		err   bool
	}{
		{imap.UIDSet{{Start: 3, Stop: 1}, {Start: 2, Stop: 5}}, 10, []imap.UID{1, 2, 3, 4, 5}, 1, false},
		{imap.UIDSet{{Start: 9, Stop: 9}, {Start: 1, Stop: 2}, {Start: 3, Stop: 3}, {Start: 5, Stop: 6}}, 10, []imap.UID{1, 2, 3, 5, 6, 9}, 3, false},
		{imap.UIDSet{{Start: top - 1, Stop: top}, {Start: top, Stop: top}}, 10, []imap.UID{top - 1, top}, 1, false},
		{imap.UIDSet{{Start: 1, Stop: 20}}, 10, nil, 0, true},
		{imap.UIDSet{{Start: 1, Stop: 6}, {Start: 10, Stop: 15}}, 10, nil, 0, true},
		{imap.UIDSet{{Start: 0, Stop: 5}}, 10, nil, 0, true},
	}
	for _, tc := range cases {
		l, err := uidListOf(tc.set, tc.limit)
		got := slices.Collect(l.all())
		if (err != nil) != tc.err || !slices.Equal(got, tc.want) || len(l.runs) != tc.runs || l.len() != len(tc.want) {
			t.Errorf("uidListOf(%v, %d) = %v in %d runs, len %d, %v", tc.set, tc.limit, got, len(l.runs), l.len(), err)
		}
	}
}

// TestUIDList: places, counts below, the list from a UID on and the
// chunks agree with a plain slice of the same UIDs.
func TestUIDList(t *testing.T) {
	uids := []imap.UID{2, 3, 4, 7, 9, 10, 11, 12, 20}
	l := listOf(uids...)
	if len(l.runs) != 4 || l.len() != len(uids) {
		t.Fatalf("%d runs, len %d", len(l.runs), l.len())
	}
	for u := imap.UID(1); u <= 22; u++ {
		i, found := slices.BinarySearch(uids, u)
		if at, ok := l.place(u); ok != found || ok && at != i {
			t.Errorf("place(%d) = %d, %v; want %d, %v", u, at, ok, i, found)
		}
		if got := l.below(u); got != i {
			t.Errorf("below(%d) = %d, want %d", u, got, i)
		}
		if got, want := slices.Collect(l.from(u).all()), uids[i:]; !slices.Equal(got, want) {
			t.Errorf("from(%d) = %v, want %v", u, got, want)
		}
	}
	var chunks [][]imap.UID
	for c := range l.chunks(4) {
		chunks = append(chunks, c)
	}
	if want := [][]imap.UID{{2, 3, 4, 7}, {9, 10, 11, 12}, {20}}; !slices.EqualFunc(chunks, want, slices.Equal) {
		t.Errorf("chunks(4) = %v, want %v", chunks, want)
	}
	if got := l.set().String(); got != "2:4,7,9:12,20" {
		t.Errorf("set = %s", got)
	}
}

// FuzzUIDListOf: whatever ranges a server answers with, the list holds
// exactly their UIDs, in order, or is refused for holding too many.
func FuzzUIDListOf(f *testing.F) {
	f.Add([]byte{3, 1, 2, 5, 9, 9})
	f.Add([]byte{0, 4, 255, 255, 250, 255})
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 600
		var set imap.UIDSet
		want := map[imap.UID]bool{}
		total := 0
		for i := 0; i+1 < len(data); i += 2 {
			r := imap.UIDRange{Start: imap.UID(data[i]), Stop: imap.UID(data[i+1])}
			set = append(set, r)
			lo, hi := min(r.Start, r.Stop), max(r.Start, r.Stop)
			total += int(hi-lo) + 1
			for u := lo; u <= hi; u++ {
				want[u] = true
			}
		}
		l, err := uidListOf(set, limit)
		if want[0] || total > limit {
			if err == nil {
				t.Fatalf("%v: not refused", set)
			}
			return
		}
		if err != nil {
			t.Fatalf("%v: %v", set, err)
		}
		got := slices.Collect(l.all())
		if !slices.IsSorted(got) || len(got) != len(want) || l.len() != len(want) {
			t.Fatalf("%v: %v (len %d), want %d UIDs", set, got, l.len(), len(want))
		}
		for i, u := range got {
			if at, ok := l.place(u); !want[u] || !ok || at != i {
				t.Fatalf("%v: UID %d at %d: place %d, %v", set, u, i, at, ok)
			}
		}
	})
}
