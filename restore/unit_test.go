package restore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/mailkeep/mailkeep/archive"
)

func TestRestoreAppendFlags(t *testing.T) {
	send, dropped := appendFlags([]string{`\Seen`, `\recent`, `\Recent`, `\ANSWERED`, "$Forwarded", "Projekt-X",
		`\Foo`, "bad(kw", "", "ümlaut", `\Deleted`, `\Draft`, `\Flagged`})
	want := []imap.Flag{imap.FlagSeen, imap.FlagAnswered, "$Forwarded", "Projekt-X", imap.FlagDeleted, imap.FlagDraft,
		imap.FlagFlagged}
	if !slices.Equal(send, want) {
		t.Errorf("send = %q, want %q", send, want)
	}
	if wantDropped := []string{`\Foo`, "bad(kw", "", "ümlaut"}; !slices.Equal(dropped, wantDropped) {
		t.Errorf("dropped = %q, want %q", dropped, wantDropped)
	}
}

// fakeMsg is an archive message with content raw.
func fakeMsg(id string, raw string) archive.Message {
	vs := int64(len(raw)) + int64(strings.Count(raw, "\n")-strings.Count(raw, "\r\n"))
	return archive.Message{MessageID: id, Size: int64(len(raw)), VSize: vs, SHA256: sha256.Sum256([]byte(raw)),
		File: raw} // File carries the content for the fake hashers
}

func hashOf(s string) [32]byte {
	h := newContentHash()
	h.Write([]byte(s))
	return h.Sum()
}

func TestRestoreMatch(t *testing.T) {
	type tgt struct {
		id  string
		raw string
	}
	tests := []struct {
		name       string
		archive    []archive.Message
		target     []tgt
		want       []int // indices to append
		wantHashed int   // target messages fetched whole
	}{
		{"empty target", []archive.Message{fakeMsg("<a>", "A"), fakeMsg("", "B")}, nil, []int{0, 1}, 0},
		{"all present by Message-ID", []archive.Message{fakeMsg("<a>", "AA"), fakeMsg("<b>", "BB")},
			[]tgt{{"<b>", "BB"}, {"<a>", "AA"}}, nil, 0},
		{"same ID, other size", []archive.Message{fakeMsg("<a>", "AA")}, []tgt{{"<a>", "AAA"}}, []int{0}, 0},
		{"no Message-ID, present", []archive.Message{fakeMsg("", "x1"), fakeMsg("", "x2")},
			[]tgt{{"", "x2"}}, []int{0}, 1},
		{"no Message-ID, nothing of its size", []archive.Message{fakeMsg("", "xyz")},
			[]tgt{{"", "x2"}}, []int{0}, 0},
		{"no Message-ID in the archive, target parses one", []archive.Message{fakeMsg("", "M1")},
			[]tgt{{"<m>", "M1"}}, nil, 1},
		{"two archive messages share ID and size", []archive.Message{fakeMsg("<s>", "s1"), fakeMsg("<s>", "s2")},
			[]tgt{{"<s>", "s2"}}, []int{0}, 1},
		{"identical archive copies need two target copies", []archive.Message{fakeMsg("<d>", "dd"), fakeMsg("<d>", "dd")},
			[]tgt{{"<d>", "dd"}}, []int{1}, 1},
		{"target holds a distinct message twice under the ID", []archive.Message{fakeMsg("<e>", "e1")},
			[]tgt{{"<e>", "e2"}, {"<e>", "e3"}}, []int{0}, 2},
		{"bare LF in the archive, CRLF on the target", []archive.Message{fakeMsg("", "a\nb\n")},
			[]tgt{{"", "a\r\nb\r\n"}}, nil, 1},
		{"bare LF kept by the target (raw size)", []archive.Message{fakeMsg("<l>", "a\nb\n")},
			[]tgt{{"<l>", "a\nb\n"}}, nil, 0},
		{"a CRLF added at the end by the target", []archive.Message{fakeMsg("<p>", "H: v\r\nX")},
			[]tgt{{"<p>", "H: v\r\nX\r\n"}}, nil, 1},
		{"a CRLF added, no Message-ID", []archive.Message{fakeMsg("", "H: v\r\n")},
			[]tgt{{"", "H: v\r\n\r\n"}}, nil, 1},
		{"same ID, 2 bytes more, other content", []archive.Message{fakeMsg("<q>", "AB")},
			[]tgt{{"<q>", "ABCD"}}, []int{0}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hs []held
			content := map[imap.UID]string{}
			for i, m := range tc.target {
				uid := imap.UID(i + 1)
				// RFC822.SIZE of what the server stores: CRLF or, on a
				// server that keeps bare LF, the raw size.
				hs = append(hs, held{uid: uid, size: int64(len(m.raw)), id: m.id})
				content[uid] = m.raw
			}
			hashed := 0
			todo, _, err := matchHeld(t, tc.archive, hs, func(uids []imap.UID) (map[imap.UID][32]byte, error) {
				hashed += len(uids)
				out := map[imap.UID][32]byte{}
				for _, u := range uids {
					out[u] = hashOf(content[u])
				}
				return out, nil
			}, func(i int) ([32]byte, error) { return hashOf(tc.archive[i].File), nil })
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(todo, tc.want) {
				t.Errorf("to append %v, want %v", todo, tc.want)
			}
			if hashed != tc.wantHashed {
				t.Errorf("%d target messages fetched to compare, want %d", hashed, tc.wantHashed)
			}
		})
	}
}

// matchHeld matches msgs with a target folder that holds h, in a new
// matchDB.
func matchHeld(t *testing.T, msgs []archive.Message, h []held,
	hashTarget func([]imap.UID) (map[imap.UID][32]byte, error),
	hashArchive func(i int) ([32]byte, error)) ([]int, []imap.UID, error) {
	t.Helper()
	ctx := t.Context()
	d, err := openMatchDB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	n, err := d.addHeld(ctx, func(add func(held) error) error {
		for _, x := range h {
			if err := add(x); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		return allOf(len(msgs)), make([]imap.UID, len(msgs)), nil
	}
	return matchMsgs(ctx, d, msgs, hashTarget, hashArchive)
}

// matchMsgs adds msgs to d, which holds the target folder's messages, and
// returns the indices of msgs that the target lacks, in order, and for
// each message the target holds, the UID of the target message that is it
// (0 for the others). hashTarget returns the content hash of target
// messages (it may leave out one it could not read: that message then
// matches nothing); hashArchive that of msgs[i].
func matchMsgs(ctx context.Context, d *matchDB, msgs []archive.Message,
	hashTarget func([]imap.UID) (map[imap.UID][32]byte, error),
	hashArchive func(i int) ([32]byte, error)) ([]int, []imap.UID, error) {
	err := d.addArchive(ctx, func(add func(int, archive.Identity) error) error {
		for i, m := range msgs {
			if err := add(i, m.Identity()); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = d.resolve(ctx, hashTarget, func(i int, _ int64) ([32]byte, error) { return hashArchive(i) })
	}
	if err != nil {
		return nil, nil, err
	}
	var todo []int
	at := make([]imap.UID, len(msgs))
	err = d.each(ctx, func(i int, uid imap.UID, _ int64) error {
		if uid == 0 {
			todo = append(todo, i)
		} else {
			at[i] = uid
		}
		return nil
	})
	return todo, at, err
}

// allOf is 0, 1, …, n-1.
func allOf(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func TestRestoreContentHashNormalizes(t *testing.T) {
	want := sha256.Sum256([]byte("a\r\nb\x80\r\n\r\nc"))
	for _, in := range []string{"a\r\nb\x80\r\n\r\nc", "a\nb\x00\n\nc", "a\r\nb\x00\n\r\nc",
		"a\r\nb\x80\r\n\r\nc\r\n", "a\nb\x00\n\nc\n\n", "a\r\nb\x80\r\n\r\nc\r\n\r\n\r\n"} {
		h := newContentHash()
		for _, b := range []byte(in) { // byte by byte: CR and LF split across writes
			h.Write([]byte{b})
		}
		if h.Sum() != want {
			t.Errorf("%q hashes differently from its CRLF form", in)
		}
	}
	for _, in := range []string{"a\r\nb\x80\r\nc", "a\r\nb\x80\r\n\r\nc d", "\r\na\r\nb\x80\r\n\r\nc"} {
		if hashOf(in) == want {
			t.Errorf("%q hashes as %q", in, "a\r\nb\x80\r\n\r\nc")
		}
	}
}

// recorder is an io.Writer that remembers what it got.
type recorder struct{ bytes.Buffer }

func TestRestoreSendBody(t *testing.T) {
	raw := []byte(strings.Repeat("0123456789", 10000))
	good := archive.Message{Key: "m1.1", Size: int64(len(raw)), SHA256: sha256.Sum256(raw)}
	tests := []struct {
		name    string
		content []byte
		readErr error
		damaged bool
	}{
		{"exact", raw, nil, false},
		{"short", raw[:len(raw)-1], nil, true},
		{"long", append(bytes.Clone(raw), 'x'), nil, true},
		{"other bytes", append(bytes.Clone(raw[:len(raw)-1]), 'x'), nil, true},
		{"read error at the end", raw, errors.New("zstd: checksum mismatch"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w recorder
			r := io.Reader(bytes.NewReader(tc.content))
			if tc.readErr != nil {
				r = io.MultiReader(r, errReader{tc.readErr})
			}
			err := sendBody(&w, archive.Verified(io.NopCloser(r), good), good.Size)
			var d damagedError
			if got := errors.As(err, &d); got != tc.damaged {
				t.Fatalf("err = %v, damaged %v, want %v", err, got, tc.damaged)
			}
			switch {
			case !tc.damaged && !bytes.Equal(w.Bytes(), raw):
				t.Errorf("wrote %d bytes, want the message", w.Len())
			case tc.damaged && int64(w.Len()) >= good.Size:
				t.Errorf("damaged message completed its literal (%d bytes written)", w.Len())
			}
		})
	}
	// A writer that fails with an error wrapping io.ErrUnexpectedEOF (a
	// connection closed mid-literal) is the connection's problem, not damage.
	err := sendBody(failingWriter{}, archive.Verified(io.NopCloser(bytes.NewReader(raw)), good), good.Size)
	var d damagedError
	if errors.As(err, &d) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("write error: %v, want it passed on undamaged", err)
	}
	empty := archive.Message{Key: "m1.2", SHA256: sha256.Sum256(nil)}
	if err := sendBody(io.Discard, archive.Verified(io.NopCloser(bytes.NewReader(nil)), empty), 0); err != nil {
		t.Errorf("empty message: %v", err)
	}
}

// TestReadIntoGrowsOnce checks that a message is read into the buffer
// without Buffer.ReadFrom growing it: the buffer is sized once, to at most
// bufferLimit (plus the room ReadFrom asks for), and the bytes arrive whole.
func TestReadIntoGrowsOnce(t *testing.T) {
	var buf bytes.Buffer
	for _, size := range []int{1, 100, 511, 512, 513, 4096, 70000, 69000, 1 << 20, bufferLimit} {
		raw := bytes.Repeat([]byte("x"), size)
		m := archive.Message{Key: "m1.2", Size: int64(size), SHA256: sha256.Sum256(raw)}
		before := buf.Cap()
		if err := readInto(&buf, archive.Verified(io.NopCloser(bytes.NewReader(raw)), m), m.Size); err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		want := before
		if before < size+bytes.MinRead {
			want = min(max(size+bytes.MinRead, 2*before), bufferLimit+bytes.MinRead)
		}
		if buf.Cap() != want || !bytes.Equal(buf.Bytes(), raw) {
			t.Errorf("%d bytes: capacity %d after %d, want %d; content whole: %v", size, buf.Cap(), before, want, bytes.Equal(buf.Bytes(), raw))
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) {
	return 0, fmt.Errorf("connection lost: %w", io.ErrUnexpectedEOF)
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
