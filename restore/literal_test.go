package restore_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailkeep/mailkeep/internal/dovecottest"
	"github.com/mailkeep/mailkeep/internal/memservertest"
	"github.com/mailkeep/mailkeep/internal/servertest"
	"github.com/mailkeep/mailkeep/restore"
)

// TestRestoreLiterals: APPEND sends every literal non-synchronizing
// ({n+}) to a server with LITERAL+ (Dovecot), whatever its size; to one
// with LITERAL- only (imapmemserver) up to 4096 bytes; and to one with
// neither (Courier) never. Messages of 1 KiB, 6 KiB, 300 KiB and 5 MiB
// (streamed from the archive, not buffered) come back byte for byte.
func TestRestoreLiterals(t *testing.T) {
	t.Parallel()
	src := dovecotServer(t, "Dovecot", dovecottest.Options{Users: []string{"alice", "carol"}})
	sizes := []int{1 << 10, 6 << 10, 300 << 10, 5 << 20}
	c := src.dial(t, "alice")
	var want []string
	for i, size := range sizes {
		raw := sizedMessage(i, size)
		if err := appendOne(c, "INBOX", raw, nil, time.Date(2024, 3, 1+i, 9, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("%x %d", sha256.Sum256([]byte(raw)), size))
	}
	slices.Sort(want)
	root := t.TempDir()
	backupAccount(t, src, root, "alice")

	tests := []struct {
		name  string
		start func(t *testing.T) mserver
		want  literalKind
	}{
		{"Dovecot", func(*testing.T) mserver { return src }, literalPlus},
		{"imapmemserver", func(t *testing.T) mserver { return memServer(t, "imapmemserver", nil) }, literalMinus},
		{"Courier", courierServer, literalSync},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dst := tc.start(t)
			rec := servertest.RecordCommands(t, dst.addr)
			res, err := restore.Run(t.Context(), root, "alice", restore.Options{Dial: dialer(rec.Addr, "carol", dst.password("carol"))})
			if err != nil || res.Appended != len(sizes) {
				t.Fatalf("restore: %+v, %v; want %d appended", res, err, len(sizes))
			}
			if kind, plus, sync := literalsSent(rec.Take()); kind != tc.want || plus+sync != len(sizes) {
				t.Errorf("APPEND literals: %s (%d {n+}, %d {n}); want %s for %d messages", kind, plus, sync, tc.want, len(sizes))
			}
			got := servedInbox(t, dst)
			if !slices.Equal(got, want) {
				t.Errorf("INBOX holds %v, want %v", got, want)
			}
		})
	}
}

// sizedMessage is a message of exactly size bytes, CRLF line ends.
func sizedMessage(i, size int) string {
	head := fmt.Sprintf("Message-ID: <literal-%d@mailkeep.test>\r\nSubject: %d bytes\r\n\r\n", i, size)
	line := strings.Repeat("0123456789abcdef", 4) + "\r\n"
	body := []byte(strings.Repeat(line, (size-len(head))/len(line)+1)[:size-len(head)-2])
	body[len(body)-1] = '.' // no bare CR before the last line end
	return head + string(body) + "\r\n"
}

// servedInbox is the SHA-256 and size of each message INBOX serves, sorted.
func servedInbox(t *testing.T, s mserver) []string {
	t.Helper()
	c := s.dial(t, "carol")
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		for _, b := range m.BodySection {
			out = append(out, fmt.Sprintf("%x %d", sha256.Sum256(b.Bytes), len(b.Bytes)))
		}
	}
	slices.Sort(out)
	return out
}

// TestRestoreAppendLimit: to a server that announces APPENDLIMIT, a
// message over the limit is not sent: it is a failure that names the
// limit, and the messages beside it are restored on the same connection.
// A dry run counts the same failures: into an empty folder, into a folder
// the target lacks, and into folders that hold what could be sent.
func TestRestoreAppendLimit(t *testing.T) {
	t.Parallel()
	src := memServer(t, "imapmemserver", nil)
	c := src.dial(t, "alice")
	if err := c.Create("Big", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	sizes := []int{1 << 10, 6 << 10, 2 << 10}
	var want []string
	for i, size := range sizes {
		raw := sizedMessage(i, size)
		if err := appendOne(c, "INBOX", raw, nil, time.Date(2024, 3, 1+i, 9, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
		if size <= 4096 {
			want = append(want, fmt.Sprintf("%x %d", sha256.Sum256([]byte(raw)), size))
		}
		if err := appendOne(c, "Big", sizedMessage(10+i, size+1<<10), nil, time.Date(2024, 3, 1+i, 9, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(want)
	root := t.TempDir()
	backupAccount(t, src, root, "alice")

	dst := memServerOpts(t, "imapmemserver", memservertest.Options{AppendLimit: 4096})
	rec := servertest.RecordCommands(t, dst.addr)
	opts := restore.Options{Dial: dialer(rec.Addr, "carol", dst.password("carol"))}
	dry := func(wantAppended int) {
		t.Helper()
		o := opts
		o.DryRun = true
		res, err := restore.Run(t.Context(), root, "alice", o)
		if !errors.Is(err, restore.ErrPartial) || res.Appended != wantAppended || res.Failed != 2 {
			t.Fatalf("dry run: %+v, %v; want %d to append, 2 to fail", res, err, wantAppended)
		}
		if msg := res.Failures[0].Error(); !strings.Contains(msg, "over the server's APPENDLIMIT of 4096 bytes") {
			t.Errorf("dry run: failure %q does not name the limit", msg)
		}
	}
	dry(4) // INBOX: 1 and 2 KiB of 1, 6 and 2; Big, which the target lacks: 2 and 3 KiB of 2, 7 and 3
	if _, plus, sync := literalsSent(rec.Take()); plus+sync != 0 {
		t.Fatalf("the dry run sent %d APPEND literals", plus+sync)
	}
	res, err := restore.Run(t.Context(), root, "alice", opts)
	if !errors.Is(err, restore.ErrPartial) || res.Appended != 4 || res.Failed != 2 {
		t.Fatalf("restore: %+v, %v; want 4 appended, 2 failed", res, err)
	}
	if msg := res.Failures[0].Error(); !strings.Contains(msg, "over the server's APPENDLIMIT of 4096 bytes") {
		t.Errorf("failure %q does not name the limit", msg)
	}
	if _, plus, sync := literalsSent(rec.Take()); plus+sync != 4 {
		t.Errorf("%d APPEND literals sent, want 4", plus+sync)
	}
	if got := servedInbox(t, dst); !slices.Equal(got, want) {
		t.Errorf("INBOX holds %v, want %v", got, want)
	}
	dry(0) // what could be sent is there
}
