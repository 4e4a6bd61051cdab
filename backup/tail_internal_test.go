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
		{"no UIDNEXT", 0, 0, 0, entries(1), nil, []imap.UID{1}, nil},
		{"UIDNEXT went back", 4, 5, 4, nil, nil, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := &folderSync{sel: &imap.SelectData{UIDValidity: 7, UIDNext: tc.next}, known: tc.known,
				from: tc.from, below: tc.below}
			var rows []archive.Message
			for _, u := range tc.stored {
				rows = append(rows, archive.Message{UID: uint32(u)})
			}
			fs.recorded(rows)
			got := fs.certify(tc.server)
			if tc.want != nil {
				tc.want.UIDValidity = 7
			}
			if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
				t.Errorf("certify = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestExpandUIDs(t *testing.T) {
	const top = imap.UID(^uint32(0))
	cases := []struct {
		set   imap.UIDSet
		limit int
		want  []imap.UID
		err   bool
	}{
		{imap.UIDSet{{Start: 3, Stop: 1}, {Start: 2, Stop: 5}}, 10, []imap.UID{1, 2, 3, 4, 5}, false},
		{imap.UIDSet{{Start: top - 1, Stop: top}}, 10, []imap.UID{top - 1, top}, false},
		{imap.UIDSet{{Start: 1, Stop: 20}}, 10, nil, true},
		{imap.UIDSet{{Start: 1, Stop: 6}, {Start: 10, Stop: 15}}, 10, nil, true},
		{imap.UIDSet{{Start: 0, Stop: 5}}, 10, nil, true},
	}
	for _, tc := range cases {
		got, err := expandUIDs(tc.set, tc.limit)
		if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("expandUIDs(%v, %d) = %v, %v", tc.set, tc.limit, got, err)
		}
	}
}
