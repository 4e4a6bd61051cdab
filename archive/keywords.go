package archive

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// maxKeywordLetters is how many keywords a Maildir file name can carry: the
// letters a–z.
const maxKeywordLetters = 26

// systemFlags maps IMAP system flags to Maildir letters. \Recent is not
// stored, and $Forwarded stays a keyword (Dovecot ignores the P letter).
var systemFlags = []struct {
	flag   string
	letter byte
}{
	{`\Answered`, 'R'},
	{`\Deleted`, 'T'},
	{`\Draft`, 'D'},
	{`\Flagged`, 'F'},
	{`\Seen`, 'S'},
}

// passedKeyword is what the Maildir letter P ("passed") means when a file
// written by another tool carries it.
const passedKeyword = "$Forwarded"

// Keywords is a folder's table of keyword letters, kept as Dovecot keeps it
// in the folder's dovecot-keywords file: the keyword at index i is written
// as the letter 'a'+i in message file names. Keywords are IMAP atoms and
// are matched without regard to case; the first spelling seen is kept. The
// zero value is an empty table. A Keywords is not safe for concurrent use.
type Keywords struct {
	names []string // index i ↔ letter 'a'+i; "" marks an unused index
}

// ParseKeywordsFile parses a dovecot-keywords file: lines "<index> <keyword>"
// with index 0–25, in any order, with gaps. Anything else is an error.
func ParseKeywordsFile(data []byte) (*Keywords, error) {
	k := &Keywords{}
	if len(data) == 0 {
		return k, nil
	}
	for n, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if err := k.parseLine(line); err != nil {
			return nil, fmt.Errorf("keywords file line %d: %w", n+1, err)
		}
	}
	return k, nil
}

func (k *Keywords) parseLine(line string) error {
	num, kw, ok := strings.Cut(line, " ")
	if !ok {
		return fmt.Errorf("no space in %q", line)
	}
	i, ok := parseCanonicalUint(num, 8)
	if !ok || i >= maxKeywordLetters {
		return fmt.Errorf("bad index %q", num)
	}
	if !validKeyword(kw) {
		return fmt.Errorf("bad keyword %q", kw)
	}
	if int(i) < len(k.names) && k.names[i] != "" {
		return fmt.Errorf("index %d given twice", i)
	}
	if k.index(kw) >= 0 {
		return fmt.Errorf("keyword %q given twice", kw)
	}
	k.set(int(i), kw)
	return nil
}

func (k *Keywords) set(i int, kw string) {
	for len(k.names) <= i {
		k.names = append(k.names, "")
	}
	k.names[i] = kw
}

// validKeyword reports whether kw is an IMAP keyword that the file can
// hold: an atom (printable ASCII without atom-specials) not starting with '\'.
func validKeyword(kw string) bool {
	for i := 0; i < len(kw); i++ {
		if c := kw[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return false
		}
	}
	return kw != ""
}

// index returns the index of kw in the table, or -1.
func (k *Keywords) index(kw string) int {
	return slices.IndexFunc(k.names, func(n string) bool { return n != "" && strings.EqualFold(n, kw) })
}

// Marshal returns the table in the dovecot-keywords format, lines in index order.
func (k *Keywords) Marshal() []byte {
	var b bytes.Buffer
	for i, kw := range k.names {
		if kw != "" {
			b.WriteString(strconv.Itoa(i) + " " + kw + "\n")
		}
	}
	return b.Bytes()
}

// Letters returns the Maildir flag letters for a set of IMAP flags, in ASCII
// order, assigning new keyword letters as needed (the lowest free index
// first, as Dovecot does). changed reports whether the table grew and must
// be written before a file name that uses the letters is published.
// \Recent, unknown system flags and keywords that get no letter (the table
// is full, or the keyword is not a valid atom) are left out.
func (k *Keywords) Letters(flags []string) (letters string, changed bool) {
	var set [128]bool
	for _, f := range flags {
		c, grew := k.letter(f)
		set[c] = true
		changed = changed || grew
	}
	var b []byte
	for c := 1; c < len(set); c++ {
		if set[c] {
			b = append(b, byte(c))
		}
	}
	return string(b), changed
}

// letter returns the letter for one flag (0 for none) and whether a new
// keyword letter was assigned.
func (k *Keywords) letter(flag string) (byte, bool) {
	if strings.HasPrefix(flag, `\`) {
		for _, s := range systemFlags {
			if strings.EqualFold(flag, s.flag) {
				return s.letter, false
			}
		}
		return 0, false
	}
	if i := k.index(flag); i >= 0 {
		return 'a' + byte(i), false
	}
	if !validKeyword(flag) {
		return 0, false
	}
	i := slices.Index(k.names, "")
	if i < 0 {
		if i = len(k.names); i >= maxKeywordLetters {
			return 0, false
		}
	}
	k.set(i, flag)
	return 'a' + byte(i), true
}

// Flags inverts Letters: it returns the IMAP flags for Maildir letters,
// system flags first, each group sorted. P becomes $Forwarded. A letter
// that is neither a flag nor a keyword in the table is an error.
func (k *Keywords) Flags(letters string) ([]string, error) {
	var sys, kws []string
	for i := 0; i < len(letters); i++ {
		c := letters[i]
		switch {
		case c >= 'a' && c <= 'z':
			j := int(c - 'a')
			if j >= len(k.names) || k.names[j] == "" {
				return nil, fmt.Errorf("flag letter %q: no such keyword", c)
			}
			kws = append(kws, k.names[j])
		case c == 'P':
			kws = append(kws, passedKeyword)
		default:
			f := systemFlagName(c)
			if f == "" {
				return nil, fmt.Errorf("unknown flag letter %q", c)
			}
			sys = append(sys, f)
		}
	}
	slices.Sort(sys)
	slices.SortFunc(kws, compareKeywords)
	kws = slices.CompactFunc(kws, strings.EqualFold)
	return append(slices.Compact(sys), kws...), nil
}

func systemFlagName(c byte) string {
	for _, s := range systemFlags {
		if s.letter == c {
			return s.flag
		}
	}
	return ""
}

// compareKeywords orders keywords without regard to case, then by bytes.
func compareKeywords(a, b string) int {
	if c := strings.Compare(strings.ToLower(a), strings.ToLower(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}
