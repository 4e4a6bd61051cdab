package restore

import (
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
		if _, err := d.addHeld(ctx, func(add func(held) error) error {
			for _, h := range hs {
				if err := add(h); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		todo, _, err := matchMsgs(ctx, d, msgs, nil, nil)
		if err != nil || len(todo) != 0 {
			b.Fatal(err, len(todo))
		}
	}
}
