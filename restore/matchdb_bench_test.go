package restore

import (
	"context"
	"fmt"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/mailkeep/mailkeep/archive"
)

// BenchmarkMatchDB matches a folder of 100,000 messages, each with its
// own Message-ID, with a target that holds them all.
func BenchmarkMatchDB(b *testing.B) {
	const n = 100_000
	msgs := make([]archive.Message, n)
	hs := make([]held, n)
	for i := range msgs {
		id := fmt.Sprintf("<%d.%d@bench.example>", i, i*7919)
		msgs[i] = archive.Message{ID: int64(i + 1), MessageID: id, Size: int64(1000 + i%2000), VSize: int64(1000 + i%2000)}
		hs[i] = held{uid: imap.UID(i + 1), id: id, size: msgs[i].VSize}
	}
	benchLoop(b, func(ctx context.Context, d *matchDB) error {
		if _, err := d.addHeld(ctx, func(add func(held) error) error {
			for _, h := range hs {
				if err := add(h); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
		todo, _, err := matchMsgs(ctx, d, msgs, nil, nil)
		if err == nil && len(todo) != 0 {
			err = fmt.Errorf("%d to append, want none", len(todo))
		}
		return err
	})
}

// benchLoop opens a match database and runs op on it, emptied, once per
// round of b.
func benchLoop(b *testing.B, op func(ctx context.Context, d *matchDB) error) {
	ctx := b.Context()
	d, err := openMatchDB(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	for b.Loop() {
		if err := d.reset(ctx); err != nil {
			b.Fatal(err)
		}
		if err := op(ctx, d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLabelMerge merges the folders of a restore with labels: 100,000
// messages in All Mail, each with its X-GM-MSGID and two labels, half of
// them in INBOX too and a tenth in a label folder.
func BenchmarkLabelMerge(b *testing.B) {
	const n = 100_000
	var rows []labelRow
	gm := map[int64]archive.Gmail{}
	add := func(f, i int, label string) {
		id := int64(len(rows) + 1)
		rows = append(rows, labelRow{f: f, m: archive.Message{ID: id, MessageID: fmt.Sprintf("<%d@bench.example>", i),
			Size: int64(1000 + i%2000), VSize: int64(1000 + i%2000)}, label: label})
		gm[id] = archive.Gmail{MsgID: uint64(1e12 + i), Labels: []string{`\Important`, "Work"}}
	}
	for i := range n {
		add(0, i, "")
	}
	for i := 0; i < n; i += 2 {
		add(1, i, `\Inbox`)
	}
	for i := 0; i < n; i += 10 {
		add(2, i, "Travel")
	}
	benchLoop(b, func(ctx context.Context, d *matchDB) error {
		if err := d.addLabelRows(ctx, func(add func(labelRow) error) error {
			for _, r := range rows {
				if err := add(r); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
		if err := d.addGmail(ctx, func(add func(int64, archive.Gmail) error) error {
			for id, g := range gm {
				if err := add(id, g); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
		got, err := d.mergeLabels(ctx)
		if err == nil && got != n {
			err = fmt.Errorf("%d messages merged, want %d", got, n)
		}
		if err != nil {
			return err
		}
		return d.eachLabels(ctx, func(i int, l []string) error { return nil })
	})
}
