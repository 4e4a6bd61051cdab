package index

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// errTextFull stops a copy into a textBuf that has reached its cap.
var errTextFull = errors.New("text limit reached")

// textBuf collects a message's text up to max bytes.
type textBuf struct {
	b   strings.Builder
	max int
}

func (t *textBuf) full() bool { return t.b.Len() >= t.max }

// Write keeps what fits and reports errTextFull once the cap is reached.
func (t *textBuf) Write(p []byte) (int, error) {
	room := t.max - t.b.Len()
	if room <= 0 {
		return 0, errTextFull
	}
	if len(p) > room {
		t.b.Write(p[:room])
		return room, errTextFull
	}
	t.b.Write(p)
	return len(p), nil
}

// sep starts a new paragraph unless the text is empty or already ends in one.
func (t *textBuf) sep() {
	if s := t.b.String(); s != "" && !strings.HasSuffix(s, "\n") && !t.full() {
		t.b.WriteByte('\n')
	}
}

// String returns the text as valid UTF-8 (a cut may split a character).
func (t *textBuf) String() string { return validUTF8(t.b.String()) }

// validUTF8 replaces invalid bytes, so that SQLite stores text.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// isCJK reports whether r belongs to a script written without spaces
// between words (or is the katakana long vowel mark, which belongs to
// none), which FTS5's unicode61 tokenizer would keep as one token
// per run.
func isCJK(r rune) bool {
	if r < 0x1100 {
		return false
	}
	return r == 'ー' || unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
}

// segment prepares text for the unicode61 tokenizer: each run of CJK
// characters becomes its overlapping bigrams ("会议纪要" → "会议 议纪 纪要"),
// set apart by spaces. A query term goes through the same function and
// becomes a phrase of bigrams, so a word of two or more characters is found
// wherever it occurs in a run. Text without CJK is returned unchanged.
func segment(s string) string {
	i := strings.IndexFunc(s, isCJK)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/2)
	b.WriteString(s[:i])
	var run []rune
	for _, r := range s[i:] {
		if isCJK(r) {
			run = append(run, r)
			continue
		}
		writeBigrams(&b, run)
		run = run[:0]
		b.WriteRune(r)
	}
	writeBigrams(&b, run)
	return b.String()
}

func writeBigrams(b *strings.Builder, run []rune) {
	if len(run) == 0 {
		return
	}
	b.WriteByte(' ')
	if len(run) == 1 {
		b.WriteRune(run[0])
	}
	for j := 0; j+1 < len(run); j++ {
		if j > 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(run[j])
		b.WriteRune(run[j+1])
	}
	b.WriteByte(' ')
}
