package memservertest_test

import (
	"errors"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailkeep/mailkeep/internal/memservertest"
)

func TestStart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		caps imap.CapSet
		has  bool // LIST-STATUS and ESEARCH
	}{
		{"IMAP4rev2", nil, true},
		{"IMAP4rev1 only", imap.CapSet{imap.CapIMAP4rev1: {}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := memservertest.Start(t, memservertest.Options{Caps: tc.caps})
			c := s.Dial(t, "bob")
			caps := c.Caps()
			if caps.Has(imap.CapListStatus) != tc.has || caps.Has(imap.CapESearch) != tc.has || caps.Has(imap.CapCondStore) {
				t.Errorf("caps %v", caps)
			}
			if err := c.Create(s.Folder("Archive/2024"), nil).Wait(); err != nil {
				t.Fatal(err)
			}
			raw := "Subject: bare LF\n\nkept\n"
			date := time.Date(1969, 7, 20, 20, 17, 0, 0, time.FixedZone("", -5*3600))
			cmd := c.Append("Archive/2024", int64(len(raw)), &imap.AppendOptions{Time: date})
			_, werr := cmd.Write([]byte(raw))
			if err := errors.Join(werr, cmd.Close()); err != nil {
				t.Fatal(err)
			}
			if _, err := cmd.Wait(); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Select("Archive/2024", nil).Wait(); err != nil {
				t.Fatal(err)
			}
			msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{InternalDate: true,
				BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
			if err != nil || len(msgs) != 1 {
				t.Fatal(msgs, err)
			}
			// The header is rewritten with CRLF; the body is kept as it is.
			want := "Subject: bare LF\r\n\r\nkept\n"
			if got := string(msgs[0].FindBodySection(&imap.FetchItemBodySection{})); got != want || !msgs[0].InternalDate.Equal(date) {
				t.Errorf("got %q at %v, want %q at %v", got, msgs[0].InternalDate, want, date)
			}
		})
	}
}
