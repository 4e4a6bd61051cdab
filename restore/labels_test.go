package restore_test

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/internal/gmailfake"
	"github.com/mailkeep/mailkeep/restore"
)

// gmailSource is a Gmail mailbox: a message in INBOX under two labels
// (four folders with All Mail), a sent one, an archived one (All Mail
// only) and one in Trash.
func gmailSource() []*gmailfake.Message {
	date := time.Date(2025, 5, 4, 8, 0, 0, 0, time.UTC)
	msg := func(i int, labels ...string) *gmailfake.Message {
		return &gmailfake.Message{Raw: fmt.Sprintf("Message-ID: <%d@src>\r\nSubject: %d\r\n\r\nbody %d\r\n", i, i, i),
			Date: date.Add(time.Duration(i) * time.Hour), Flags: []string{`\Seen`}, Labels: labels}
	}
	trash := msg(4)
	trash.Trash = true
	return []*gmailfake.Message{msg(1, `\Inbox`, "Work", "Travel"), msg(2, `\Sent`), msg(3), trash}
}

func backupGmail(t *testing.T, srv *gmailfake.Server, root string) {
	t.Helper()
	a, err := archive.OpenWriter(t.Context(), root, "gm", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := backup.IMAP(t.Context(), a, backup.Options{Dial: dialer(srv.Addr, srv.User, srv.Password)}); err != nil {
		t.Fatal(err)
	}
}

// byID returns the target's messages by Message-ID.
func byID(srv *gmailfake.Server) map[string][]gmailfake.Message {
	out := map[string][]gmailfake.Message{}
	for _, m := range srv.Messages() {
		id := m.Raw[len("Message-ID: "):]
		id = id[:len("<1@src>")]
		out[id] = append(out[id], m)
	}
	return out
}

// TestRestoreLabels: an archive of Gmail restored with labels into
// another Gmail account puts each message back once, with its labels,
// the one in Trash into Trash; a second run appends nothing and sets the
// same labels again. Without labels, each folder gets its own copy.
func TestRestoreLabels(t *testing.T) {
	src := gmailfake.Start(t, gmailSource())
	root := t.TempDir()
	backupGmail(t, src, root)

	dst := gmailfake.Start(t, nil)
	opts := restore.Options{Dial: dialer(dst.Addr, dst.User, dst.Password), Labels: true}
	res, err := runRestore(t, root, "gm", opts)
	if err != nil || res.Appended != 4 || res.Folders != 6 || res.Labelled != 2 {
		t.Fatalf("restore with labels: %+v, %v; want 4 messages appended from 6 folders, 2 labelled", res, err)
	}
	checkLabels(t, dst)
	res, err = runRestore(t, root, "gm", opts)
	if err != nil || res.Appended != 0 || res.Skipped != 4 || res.Labelled != 2 {
		t.Fatalf("second restore: %+v, %v; want nothing appended, labels set again", res, err)
	}
	checkLabels(t, dst)

	// One connection: over several, a label folder's APPENDs can land in
	// "[Gmail]/All Mail" before its scan, which then finds them present.
	plain := gmailfake.Start(t, nil)
	res, err = runRestore(t, root, "gm", restore.Options{Dial: dialer(plain.Addr, plain.User, plain.Password), Connections: 1})
	if err != nil || res.Appended != 8 {
		t.Fatalf("restore without labels: %+v, %v; want one message per folder: 8", res, err)
	}
}

func checkLabels(t *testing.T, dst *gmailfake.Server) {
	t.Helper()
	got := byID(dst)
	want := map[string][]string{"<1@src>": {"Travel", "Work", `\Inbox`}, "<2@src>": {`\Sent`}, "<3@src>": nil}
	for id, labels := range want {
		ms := got[id]
		if len(ms) != 1 {
			t.Errorf("%s: %d messages on the target, want 1", id, len(ms))
			continue
		}
		l := slices.Sorted(slices.Values(ms[0].Labels))
		if !slices.Equal(l, labels) || ms[0].Trash || !slices.Equal(ms[0].Flags, []string{`\Seen`}) {
			t.Errorf("%s: labels %q, flags %q, trash %v; want %q, seen, not in trash", id, l, ms[0].Flags, ms[0].Trash, labels)
		}
	}
	if ms := got["<4@src>"]; len(ms) != 1 || !ms[0].Trash {
		t.Errorf("the message in Trash: %+v", ms)
	}
}

// TestRestoreLabelsInterrupted: a target that refuses the labels once
// (as if the run ended between its APPENDs and its STORE) leaves the
// messages appended and the run partial; the next run appends nothing and
// sets the labels.
func TestRestoreLabelsInterrupted(t *testing.T) {
	src := gmailfake.Start(t, gmailSource())
	root := t.TempDir()
	backupGmail(t, src, root)
	dst := gmailfake.Start(t, nil)
	var refused atomic.Bool
	dst.Reply(func(c gmailfake.Command) string {
		if c.Name == "UID STORE" && refused.CompareAndSwap(false, true) {
			return "NO [UNAVAILABLE] Temporary System Error"
		}
		return ""
	})
	opts := restore.Options{Dial: dialer(dst.Addr, dst.User, dst.Password), Labels: true}
	res, err := runRestore(t, root, "gm", opts)
	if !errors.Is(err, restore.ErrPartial) || res.Appended != 4 || res.Labelled != 1 {
		t.Fatalf("first run: %+v, %v; want partial: 4 appended, one set of labels refused", res, err)
	}
	res, err = runRestore(t, root, "gm", opts)
	if err != nil || res.Appended != 0 || res.Labelled != 2 {
		t.Fatalf("second run: %+v, %v", res, err)
	}
	checkLabels(t, dst)
}

// TestRestoreLabelsNeedsGmail: --labels into a server without X-GM-EXT-1
// is refused before anything is written.
func TestRestoreLabelsNeedsGmail(t *testing.T) {
	src := gmailfake.Start(t, gmailSource())
	root := t.TempDir()
	backupGmail(t, src, root)
	dst := gmailfake.StartWith(t, nil, gmailfake.Options{Generic: true})
	_, err := restore.Run(t.Context(), root, "gm", restore.Options{Dial: dialer(dst.Addr, dst.User, dst.Password), Labels: true})
	if !errors.Is(err, restore.ErrLabels) || len(dst.Messages()) != 0 {
		t.Fatalf("err %v, %d messages on the target; want ErrLabels and none", err, len(dst.Messages()))
	}
}
