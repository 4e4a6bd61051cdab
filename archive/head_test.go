package archive

import (
	"bytes"
	"net/mail"
	"testing"
	"time"
)

// headerOf is the header as the start of a message gave it before the
// capture stopped at the header's end: the first headLimit bytes, cut at
// the first "\r\n\r\n", else "\n\n", else ended.
func headerOf(b []byte) mail.Header {
	m, err := mail.ReadMessage(bytes.NewReader(headerBytes(b[:min(len(b), headLimit)])))
	if err != nil {
		return nil
	}
	return m.Header
}

// FuzzHeadCapture checks that the header kept by headCapture, written in
// two pieces cut at every point, is a prefix of the message, and gives
// the Message-ID and Date that the message's whole start gives.
func FuzzHeadCapture(f *testing.F) {
	for _, s := range []string{"", "A: b\r\n\r\nbody", "Message-ID: <a@b>\nDate: Mon, 2 Jan 2023 15:04:05 +0100\n\nx\n\n",
		"A: 1\r\n\nB: 2\r\n\r\n", "A: 1\n\r\nbody\r\n\r\n", "Subject: x\r\n folded\r\n\r\n", "\r\n\r\n", "\n\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want := headerOf(b)
		for cut := 0; cut <= len(b); cut++ {
			var h headCapture
			h.Write(b[:cut])
			h.Write(b[cut:])
			if !bytes.HasPrefix(b, h.buf) {
				t.Fatalf("%q cut at %d: kept %q, not a prefix", b, cut, h.buf)
			}
			got := headerOf(h.buf)
			if got.Get("Message-Id") != want.Get("Message-Id") {
				t.Fatalf("%q cut at %d: Message-ID %q, want %q", b, cut, got.Get("Message-Id"), want.Get("Message-Id"))
			}
			gd, gerr := got.Date()
			wd, werr := want.Date()
			if (gerr == nil) != (werr == nil) || !gd.Equal(wd) {
				t.Fatalf("%q cut at %d: Date %v, %v; want %v, %v", b, cut, gd, gerr, wd, werr)
			}
		}
	})
}

// TestHeadCaptureStops: the capture keeps the header and nothing after it.
func TestHeadCaptureStops(t *testing.T) {
	msg := "Message-ID: <x@y>\r\nDate: Mon, 2 Jan 2023 15:04:05 +0100\r\n\r\n" + string(bytes.Repeat([]byte("body\r\n"), 5000))
	var h headCapture
	for p := []byte(msg); len(p) > 0; p = p[min(len(p), 7):] {
		h.Write(p[:min(len(p), 7)])
	}
	if want := msg[:bytes.Index([]byte(msg), []byte("\r\n\r\n"))+4]; string(h.buf) != want {
		t.Fatalf("kept %q, want the header %q", h.buf, want)
	}
	sp, err := NewSpool("")
	if err != nil {
		t.Fatal(err)
	}
	st := &Staged{header: sp.parseHeader(h.buf)}
	d, ok := st.HeaderDate()
	if !ok || !d.Equal(time.Date(2023, 1, 2, 14, 4, 5, 0, time.UTC)) || st.header.Get("Message-Id") != "<x@y>" {
		t.Errorf("date %v %v, Message-ID %q", d, ok, st.header.Get("Message-Id"))
	}
}
