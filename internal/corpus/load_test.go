package corpus_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
)

// TestLoadRoundTripsThroughDovecot proves that Dovecot serves every corpus
// message exactly as generated: bytes, flags, keywords and INTERNALDATE.
func TestLoadRoundTripsThroughDovecot(t *testing.T) {
	t.Parallel()
	s := dovecottest.Start(t, dovecottest.Options{})
	opts := corpus.Options{Seed: 42, Count: 50, Big: 2 << 20}
	msgs := corpus.Generate(opts)
	if err := corpus.Load(t.Context(), s.Dial(t, "alice"), msgs); err != nil {
		t.Fatalf("Load: %v\n%s", err, s.LogTail(20))
	}
	c := s.Dial(t, "alice")
	checkServer(t, s, c, msgs)

	more := corpus.More(opts, 20, 0)
	if err := corpus.Load(t.Context(), s.Dial(t, "alice"), more); err != nil {
		t.Fatalf("Load of More into existing folders: %v\n%s", err, s.LogTail(20))
	}
	checkServer(t, s, c, append(msgs, more...))
}

func TestLoadStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	s := dovecottest.Start(t, dovecottest.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := corpus.Load(ctx, s.Dial(t, "bob"), corpus.Generate(corpus.Options{Count: 10}))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Load with a cancelled context = %v, want context.Canceled", err)
	}
}

// checkServer compares each folder on the server with msgs, in order.
func checkServer(t *testing.T, s *dovecottest.Server, c *imapclient.Client, msgs []corpus.Message) {
	t.Helper()
	folders := corpus.Folders(msgs)
	if got := listNames(t, c); !slices.Equal(got, folders) {
		t.Errorf("LIST = %q, want %q", got, folders)
	}
	for _, f := range folders {
		want := slices.DeleteFunc(slices.Clone(msgs), func(m corpus.Message) bool { return m.Folder != f })
		got := fetchAll(t, c, f)
		if len(got) != len(want) {
			t.Errorf("%s: %d messages on the server, want %d\n%s", f, len(got), len(want), s.LogTail(10))
			continue
		}
		for i := range want {
			if d := serverDiff(got[i], want[i]); d != "" {
				t.Errorf("%s: message %d (%s): %s", f, i, subject(want[i]), d)
			}
		}
	}
}

func serverDiff(got *imapclient.FetchMessageBuffer, want corpus.Message) string {
	body := got.FindBodySection(&imap.FetchItemBodySection{})
	var flags []string
	for _, f := range got.Flags {
		if f != "\\Recent" {
			flags = append(flags, string(f))
		}
	}
	slices.Sort(flags)
	switch {
	case !bytes.Equal(body, want.Raw):
		return "body differs: " + firstDifference(body, want.Raw)
	case !slices.Equal(flags, want.Flags):
		return fmt.Sprintf("flags %q, want %q", flags, want.Flags)
	case !got.InternalDate.Equal(want.Date):
		return fmt.Sprintf("INTERNALDATE %v, want %v", got.InternalDate, want.Date)
	}
	return ""
}

func fetchAll(t *testing.T, c *imapclient.Client, folder string) []*imapclient.FetchMessageBuffer {
	t.Helper()
	sel, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("select %s: %v", folder, err)
	}
	if sel.NumMessages == 0 {
		return nil
	}
	msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{
		UID: true, Flags: true, InternalDate: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	}).Collect()
	if err != nil {
		t.Fatalf("fetch %s: %v", folder, err)
	}
	slices.SortFunc(msgs, func(a, b *imapclient.FetchMessageBuffer) int { return int(a.UID) - int(b.UID) })
	return msgs
}

func listNames(t *testing.T, c *imapclient.Client) []string {
	t.Helper()
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range list {
		names = append(names, l.Mailbox)
	}
	slices.Sort(names)
	return names
}

func firstDifference(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	return fmt.Sprintf("lengths %d and %d, first difference at byte %d: got %q, want %q",
		len(got), len(want), i, got[i:min(i+40, len(got))], want[i:min(i+40, len(want))])
}
