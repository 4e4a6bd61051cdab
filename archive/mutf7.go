package archive

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Modified UTF-7 (RFC 3501 section 5.1.3) is how IMAP servers and Dovecot's
// Maildir layouts spell mailbox names: printable ASCII other than '&' stands
// for itself, '&' is written "&-", and every other run of characters is
// written "&" + base64(UTF-16BE) + "-", with ',' in place of '/' and no
// padding.
//
// Go strings may hold invalid UTF-8, which UTF-16 cannot carry. encodeMUTF7
// writes each byte b of invalid UTF-8 as the private-use unit U+F700+b
// (U+F780–U+F7FF), and writes the characters U+F700 and U+F780–U+F7FF of
// its input as U+F700 followed by the character itself. decodeMUTF7 undoes
// both, so decodeMUTF7(encodeMUTF7(s)) == s for every string s.

const mutf7Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,"

var mutf7Base64 = base64.NewEncoding(mutf7Alphabet).WithPadding(base64.NoPadding).Strict()

// mutf7Quote is the private-use unit that carries invalid bytes (mutf7Quote+b)
// and quotes the private-use characters that would be mistaken for them.
const mutf7Quote = 0xf700

// mutf7Reserved reports whether u is a unit that encodeMUTF7 never writes
// for a character of its input without mutf7Quote before it.
func mutf7Reserved(u uint16) bool {
	return u == mutf7Quote || u >= mutf7Quote+0x80 && u <= mutf7Quote+0xff
}

// encodeMUTF7 encodes s in canonical modified UTF-7.
func encodeMUTF7(s string) string {
	var b strings.Builder
	var run []uint16
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			var n int
			run, n = appendMUTF7Units(run, s[i:])
			i += n
			continue
		}
		run = flushMUTF7Run(&b, run)
		if b.WriteByte(c); c == '&' {
			b.WriteByte('-')
		}
		i++
	}
	flushMUTF7Run(&b, run)
	return b.String()
}

// appendMUTF7Units appends the UTF-16 units for the character (or the byte
// of invalid UTF-8) at the start of s and returns how many bytes it used.
func appendMUTF7Units(units []uint16, s string) ([]uint16, int) {
	r, n := utf8.DecodeRuneInString(s)
	switch {
	case r == utf8.RuneError && n == 1:
		return append(units, mutf7Quote+uint16(s[0])), 1
	case r <= 0xffff && mutf7Reserved(uint16(r)):
		return append(units, mutf7Quote, uint16(r)), n
	}
	return utf16.AppendRune(units, r), n
}

// flushMUTF7Run writes a pending base64 run, if any, and returns the emptied run.
func flushMUTF7Run(b *strings.Builder, units []uint16) []uint16 {
	if len(units) == 0 {
		return units
	}
	raw := make([]byte, 0, 2*len(units))
	for _, u := range units {
		raw = append(raw, byte(u>>8), byte(u))
	}
	b.WriteByte('&')
	b.WriteString(mutf7Base64.EncodeToString(raw))
	b.WriteByte('-')
	return units[:0]
}

// decodeMUTF7 decodes modified UTF-7. Unlike a strict decoder it accepts
// base64 runs that hold printable ASCII and runs that follow each other
// ("&AC8-", "&AOQ-&APw-"); it rejects bytes outside printable ASCII, bad
// base64 (including nonzero padding bits), runs of an odd number of bytes,
// unpaired surrogates and an unterminated run.
func decodeMUTF7(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			return "", fmt.Errorf("modified utf-7: byte %#x at %d", c, i)
		}
		if c != '&' {
			b.WriteByte(c)
			i++
			continue
		}
		end := strings.IndexByte(s[i+1:], '-')
		if end < 0 {
			return "", fmt.Errorf("modified utf-7: unterminated run at %d", i)
		}
		if err := decodeMUTF7Run(&b, s[i+1:i+1+end]); err != nil {
			return "", fmt.Errorf("modified utf-7: run at %d: %w", i, err)
		}
		i += end + 2
	}
	return b.String(), nil
}

// decodeMUTF7Run decodes the text between "&" and "-".
func decodeMUTF7Run(b *strings.Builder, run string) error {
	if run == "" {
		b.WriteByte('&')
		return nil
	}
	if strings.ContainsAny(run, "\r\n") { // the base64 package would skip them
		return errors.New("line break in base64")
	}
	raw, err := mutf7Base64.DecodeString(run)
	if err != nil {
		return err
	}
	if len(raw)%2 != 0 {
		return errors.New("odd number of bytes")
	}
	units := make([]uint16, len(raw)/2)
	for i := range units {
		units[i] = uint16(raw[2*i])<<8 | uint16(raw[2*i+1])
	}
	return writeMUTF7Units(b, units)
}

// writeMUTF7Units writes the text that units stand for.
func writeMUTF7Units(b *strings.Builder, units []uint16) error {
	for i := 0; i < len(units); i++ {
		u := units[i]
		switch {
		case u == mutf7Quote:
			if i+1 == len(units) || !mutf7Reserved(units[i+1]) {
				return errors.New("stray U+F700")
			}
			i++
			b.WriteRune(rune(units[i]))
		case mutf7Reserved(u):
			b.WriteByte(byte(u - mutf7Quote))
		case utf16.IsSurrogate(rune(u)):
			if i+1 == len(units) {
				return errors.New("unpaired surrogate")
			}
			r := utf16.DecodeRune(rune(u), rune(units[i+1]))
			if r == utf8.RuneError {
				return errors.New("unpaired surrogate")
			}
			b.WriteRune(r)
			i++
		default:
			b.WriteRune(rune(u))
		}
	}
	return nil
}
