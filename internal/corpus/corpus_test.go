package corpus_test

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/internal/corpus"
)

func TestGenerateIsDeterministic(t *testing.T) {
	opts := corpus.Options{Seed: 7, Count: 100, Big: 100 << 10}
	a, b := corpus.Generate(opts), corpus.Generate(opts)
	if len(a) != len(b) {
		t.Fatalf("lengths %d and %d", len(a), len(b))
	}
	for i := range a {
		if d := diff(a[i], b[i]); d != "" {
			t.Fatalf("message %d differs between runs: %s", i, d)
		}
	}
	other := corpus.Generate(corpus.Options{Seed: 8, Count: 100, Big: 100 << 10})
	if bytes.Equal(a[len(a)-2].Raw, other[len(other)-2].Raw) {
		t.Error("seeds 7 and 8 gave the same ordinary message")
	}
}

func TestMessagesAreWellFormed(t *testing.T) {
	for i, m := range corpus.Generate(corpus.Options{Seed: 1, Count: 200, Big: 1 << 20}) {
		if err := checkMessage(m); err != nil {
			t.Errorf("message %d (%s): %v", i, subject(m), err)
		}
	}
}

func checkMessage(m corpus.Message) error {
	switch {
	case bytes.IndexByte(m.Raw, 0) >= 0:
		return fmt.Errorf("NUL byte")
	case bytes.Count(m.Raw, []byte("\r")) != bytes.Count(m.Raw, []byte("\r\n")):
		return fmt.Errorf("bare CR")
	case bytes.Count(m.Raw, []byte("\n")) != bytes.Count(m.Raw, []byte("\r\n")):
		return fmt.Errorf("bare LF")
	case m.Date.Nanosecond() != 0 || m.Date.IsZero() || m.Date.After(time.Now()):
		return fmt.Errorf("bad INTERNALDATE %v", m.Date)
	case slices.Contains(m.Flags, `\Recent`) || !slices.IsSorted(m.Flags):
		return fmt.Errorf("flags %q", m.Flags)
	case m.Folder == "" || strings.HasPrefix(m.Folder, "/"):
		return fmt.Errorf("folder %q", m.Folder)
	}
	return nil
}

func TestSpecialMessagesArePresent(t *testing.T) {
	msgs := corpus.Generate(corpus.Options{Seed: 3})
	checks := map[string]func(corpus.Message) bool{
		"line '.'":             hasLine("."),
		"line '..'":            hasLine(".."),
		"line '.leading dot'":  hasLine(".leading dot"),
		"10,000-byte line":     func(m corpus.Message) bool { return longestLine(m.Raw) == 10000 },
		"raw bytes 0x80-0xff":  func(m corpus.Message) bool { return bytes.Contains(m.Raw, highBytes()) },
		"8-bit header":         func(m corpus.Message) bool { return hasNonASCII(header(m)) },
		"base64 binary":        func(m corpus.Message) bool { return bytes.Contains(m.Raw, []byte("AAECAwQFBgcICQoL")) },
		"no Message-ID":        func(m corpus.Message) bool { return !bytes.Contains(header(m), []byte("Message-ID:")) },
		"no body separator":    func(m corpus.Message) bool { return !bytes.Contains(m.Raw, []byte("\r\n\r\n")) },
		"no final line end":    func(m corpus.Message) bool { return !bytes.HasSuffix(m.Raw, []byte("\r\n")) },
		"custom keyword":       func(m corpus.Message) bool { return slices.Contains(m.Flags, "Projekt-X") },
		"non-UTC INTERNALDATE": func(m corpus.Message) bool { _, off := m.Date.Zone(); return off != 0 },
	}
	for name, check := range checks {
		if !slices.ContainsFunc(msgs, check) {
			t.Errorf("no message with %s", name)
		}
	}
	if n := sharedIDs(msgs); n != 1 {
		t.Errorf("%d Message-IDs are shared by two messages, want 1", n)
	}
	for _, m := range msgs {
		if m.Folder != "INBOX" {
			t.Errorf("special message %q in %s, want INBOX", subject(m), m.Folder)
		}
	}
}

func TestOrdinaryMessageSizes(t *testing.T) {
	msgs := corpus.Generate(corpus.Options{Seed: 4, Count: 400})
	special := len(corpus.Generate(corpus.Options{Seed: 4}))
	var withAttachment int
	for _, m := range msgs[special:] {
		n := len(m.Raw)
		switch {
		case n > 50<<10 && n < 420<<10 && bytes.Contains(m.Raw, []byte("Content-Disposition: attachment")):
			withAttachment++
		case n < 1<<10 || n > 30<<10:
			t.Errorf("ordinary message of %d bytes", n)
		}
	}
	if withAttachment < 20 || withAttachment > 60 {
		t.Errorf("%d of 400 messages have attachments, want about 40", withAttachment)
	}
}

func TestBigMessage(t *testing.T) {
	const size = 2 << 20
	msgs := corpus.Generate(corpus.Options{Seed: 5, Count: 10, Big: size})
	big := msgs[len(msgs)-1]
	if n := len(big.Raw); n < size*95/100 || n > size*105/100 || big.Folder != "INBOX" {
		t.Errorf("big message has %d bytes in %s, want about %d in INBOX", n, big.Folder, size)
	}
}

func TestFoldersIncludeEmptyOnes(t *testing.T) {
	msgs := corpus.Generate(corpus.Options{Seed: 6, Count: 300})
	want := slices.Sorted(slices.Values(corpus.DefaultFolders))
	if got := corpus.Folders(msgs); !slices.Equal(got, want) {
		t.Errorf("Folders = %q, want %q", got, want)
	}
	for _, m := range msgs {
		if m.Folder == "Empty" {
			t.Fatalf("message %q in Empty", subject(m))
		}
	}
	custom := corpus.Generate(corpus.Options{Count: 50, Folders: []string{"INBOX", "a/b", "x/Empty"}})
	if got := corpus.Folders(custom); !slices.Equal(got, []string{"INBOX", "a/b", "x/Empty"}) {
		t.Errorf("custom Folders = %q", got)
	}
}

func TestMoreIsNewAndComposable(t *testing.T) {
	opts := corpus.Options{Seed: 9, Count: 100}
	seen := map[string]bool{}
	for _, m := range corpus.Generate(opts) {
		seen[string(m.Raw)] = true
	}
	all := corpus.More(opts, 10, 0)
	parts := append(corpus.More(opts, 4, 0), corpus.More(opts, 6, 4)...)
	for i, m := range all {
		if seen[string(m.Raw)] {
			t.Errorf("More message %d is also in Generate", i)
		}
		if d := diff(m, parts[i]); d != "" {
			t.Errorf("More(10, 0)[%d] != More in two parts: %s", i, d)
		}
	}
	if got := corpus.Folders(all); !slices.Contains(got, "Empty") {
		t.Errorf("Folders(More(...)) = %q, lacks the empty folder", got)
	}
}

func TestGenerateIsFast(t *testing.T) {
	if raceEnabled { // the race detector slows generation twentyfold
		t.Log("speed is not measured with the race detector")
		return
	}
	best := time.Hour
	for range 3 { // the best of three, as other processes may share the CPU
		start := time.Now()
		corpus.Generate(corpus.Options{Seed: 10, Count: 2000, Big: 16 << 20})
		if best = min(best, time.Since(start)); best < time.Second {
			return
		}
	}
	t.Errorf("2,000 messages and a 16 MiB one took %v, want well under a second", best)
}

func BenchmarkGenerate2000(b *testing.B) {
	var n int64
	for b.Loop() {
		n = 0
		for _, m := range corpus.Generate(corpus.Options{Seed: 11, Count: 2000}) {
			n += int64(len(m.Raw))
		}
	}
	b.SetBytes(n)
}

// diff describes how two messages differ, or returns "".
func diff(a, b corpus.Message) string {
	switch {
	case a.Folder != b.Folder:
		return fmt.Sprintf("folder %q vs %q", a.Folder, b.Folder)
	case !bytes.Equal(a.Raw, b.Raw):
		return "raw bytes"
	case !slices.Equal(a.Flags, b.Flags):
		return fmt.Sprintf("flags %q vs %q", a.Flags, b.Flags)
	case !a.Date.Equal(b.Date):
		return fmt.Sprintf("date %v vs %v", a.Date, b.Date)
	}
	return ""
}

// header returns the header section, each line with its CRLF.
func header(m corpus.Message) []byte {
	h, _, _ := bytes.Cut(m.Raw, []byte("\r\n\r\n"))
	return append(h[:len(h):len(h)], "\r\n"...)
}

var (
	subjectRE   = regexp.MustCompile(`(?m)^Subject: (.*)\r$`)
	messageIDRE = regexp.MustCompile(`(?m)^Message-ID: (.*)\r$`)
)

func subject(m corpus.Message) string {
	if s := subjectRE.FindSubmatch(header(m)); s != nil {
		return string(s[1])
	}
	return "(no subject)"
}

func hasLine(line string) func(corpus.Message) bool {
	return func(m corpus.Message) bool {
		return bytes.Contains(m.Raw, []byte("\r\n"+line+"\r\n"))
	}
}

func longestLine(raw []byte) int {
	longest := 0
	for line := range bytes.SplitSeq(raw, []byte("\r\n")) {
		longest = max(longest, len(line))
	}
	return longest
}

func highBytes() []byte {
	b := make([]byte, 0, 32)
	for c := 0x80; c < 0xa0; c++ {
		b = append(b, byte(c))
	}
	return b
}

func hasNonASCII(b []byte) bool {
	return slices.ContainsFunc(b, func(c byte) bool { return c >= 0x80 })
}

// sharedIDs counts Message-IDs that occur on exactly two messages.
func sharedIDs(msgs []corpus.Message) int {
	count := map[string]int{}
	for _, m := range msgs {
		if id := messageIDRE.FindSubmatch(header(m)); id != nil {
			count[string(id[1])]++
		}
	}
	n := 0
	for _, c := range count {
		if c == 2 {
			n++
		}
	}
	return n
}
