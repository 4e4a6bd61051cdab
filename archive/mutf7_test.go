package archive

import "testing"

var mutf7Cases = []struct{ s, enc string }{
	{"", ""},
	{"INBOX", "INBOX"},
	{"Entwürfe", "Entw&APw-rfe"},
	{"R&D", "R&-D"},
	{"&", "&-"},
	{"&&", "&-&-"},
	{"äü", "&AOQA,A-"},
	{"ä&ü", "&AOQ-&-&APw-"},
	{"~peter/mail/日本語/台北", "~peter/mail/&ZeVnLIqe-/&U,BTFw-"}, // RFC 3501 5.1.3
	{"a\x00b", "a&AAA-b"},
	{"\t\x7f", "&AAkAfw-"},
	{"😀", "&2D3eAA-"},          // surrogate pair
	{"\xff", "&9,8-"},          // invalid byte 0xff → U+F7FF
	{"\x80x", "&94A-x"},        // invalid byte 0x80 → U+F780
	{"\xe2\x82", "&9+L3gg-"},   // truncated sequence: two bytes
	{"\uf700", "&9wD3AA-"},     // quoted
	{"\uf780", "&9wD3gA-"},     // quoted
	{"\uf7ff", "&9wD3,w-"},     // quoted
	{"\uf701", "&9wE-"},        // not reserved
	{"\ufffd", "&,,0-"},        // a real U+FFFD is not an invalid byte
	{"a-b,c+d/e", "a-b,c+d/e"}, // base64 characters outside runs
	{" ~ ", " ~ "},
}

func TestMUTF7Encode(t *testing.T) {
	for _, c := range mutf7Cases {
		if got := encodeMUTF7(c.s); got != c.enc {
			t.Errorf("encodeMUTF7(%q) = %q, want %q", c.s, got, c.enc)
		}
	}
}

func TestMUTF7Decode(t *testing.T) {
	for _, c := range mutf7Cases {
		got, err := decodeMUTF7(c.enc)
		if err != nil || got != c.s {
			t.Errorf("decodeMUTF7(%q) = %q, %v; want %q", c.enc, got, err, c.s)
		}
	}
}

func TestMUTF7DecodeLenient(t *testing.T) {
	for enc, want := range map[string]string{
		"&AC8-":      "/",
		"&AC4-mk":    ".mk",
		"&AC4ALg-":   "..",
		"&AOQ-&APw-": "äü", // runs one after another
		"&AEEAQgBD-": "ABC",
		"x&ACY-y":    "x&y",
		"&9wD3AAD8-": "\uf700\u00fc", // quoted U+F700, then ü
	} {
		got, err := decodeMUTF7(enc)
		if err != nil || got != want {
			t.Errorf("decodeMUTF7(%q) = %q, %v; want %q", enc, got, err, want)
		}
	}
}

func TestMUTF7DecodeErrors(t *testing.T) {
	for _, enc := range []string{
		"&",        // unterminated
		"a&AOQ",    // unterminated
		"&A-",      // six bits
		"&AO-",     // one byte
		"&AOQA-",   // three bytes
		"&APx-",    // nonzero padding bits
		"&AP=-",    // padding
		"&AP/-",    // standard base64 alphabet
		"&AP\nw-",  // line break inside a run
		"&AP&w-",   // '&' inside a run
		"&2D0-",    // lone high surrogate
		"&3gA-",    // lone low surrogate
		"&2D3YPQ-", // high surrogate followed by high surrogate
		"&9wA-",    // stray U+F700
		"&9wAAQQ-", // U+F700 before an unreserved unit
		"a\x01b",   // control character outside a run
		"\x7f",     // DEL outside a run
		"Entwürfe", // raw UTF-8
		"\xff",     // raw invalid byte
	} {
		if got, err := decodeMUTF7(enc); err == nil {
			t.Errorf("decodeMUTF7(%q) = %q, want an error", enc, got)
		}
	}
}

func FuzzMUTF7RoundTrip(f *testing.F) {
	for _, c := range mutf7Cases {
		f.Add(c.s)
	}
	f.Add("\xed\xa0\x80\xed\xb0\x80") // surrogates written as UTF-8
	f.Add("\uf700\xf7\x80")
	f.Fuzz(func(t *testing.T, s string) {
		enc := encodeMUTF7(s)
		for i := 0; i < len(enc); i++ {
			if enc[i] < 0x20 || enc[i] > 0x7e {
				t.Fatalf("encodeMUTF7(%q) = %q: byte %#x", s, enc, enc[i])
			}
		}
		dec, err := decodeMUTF7(enc)
		if err != nil || dec != s {
			t.Fatalf("decodeMUTF7(encodeMUTF7(%q)) = %q, %v (encoded %q)", s, dec, err, enc)
		}
		// Decoding arbitrary input must not panic; what decodes re-encodes
		// to a string that decodes to the same text.
		if d, err := decodeMUTF7(s); err == nil {
			if d2, err := decodeMUTF7(encodeMUTF7(d)); err != nil || d2 != d {
				t.Fatalf("re-encoding decodeMUTF7(%q) = %q gave %q, %v", s, d, d2, err)
			}
		}
	})
}
