package archive

import (
	"bytes"
	"context"
	"testing"
)

// BenchmarkSpool writes messages of a corpus-like mix of sizes (mostly
// text of a few KB, some attachments) into a plain and an encrypted
// archive: the cost of encryption per message, in CPU.
func BenchmarkSpool(b *testing.B) {
	sizes := []int{2 << 10, 5 << 10, 9 << 10, 14 << 10, 20 << 10, 3 << 10, 7 << 10, 12 << 10, 300 << 10, 6 << 10}
	msgs := make([][]byte, len(sizes))
	for i, n := range sizes {
		msgs[i] = testMessage(n, uint64(i))
	}
	for _, enc := range []bool{false, true} {
		name := "plain"
		var keys *Keys
		if enc {
			name, keys = "age", backupKeys(newKeys(b))
		}
		b.Run(name, func(b *testing.B) {
			a, err := OpenWriterKeys(context.Background(), b.TempDir(), "acct", nil, keys)
			if err != nil {
				b.Fatal(err)
			}
			defer a.Close()
			f, _ := a.Folder("INBOX", '/')
			sp, _ := NewSpool("")
			var n int64
			for i := 0; b.Loop(); i++ {
				m := msgs[i%len(msgs)]
				st, err := sp.Write(f, bytes.NewReader(m))
				if err != nil {
					b.Fatal(err)
				}
				st.Discard()
				n += int64(len(m))
			}
			b.ReportMetric(float64(n)/float64(b.N), "bytes/msg")
		})
	}
}
