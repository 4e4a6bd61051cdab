package archive

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Folder directories.
//
// A server folder name is split on its hierarchy delimiter; each component
// becomes one directory level under mail/. A component is first escaped
// with '%' and two uppercase hex digits, then written in canonical modified
// UTF-7, the spelling from which Dovecot reads the component back. Escaped
// are:
//
//   - '%' itself, always;
//   - '/' anywhere (a component holds one when the delimiter is not '/');
//   - '.' and '~' as the first character: no component is ".", ".." or the
//     Maildir level ".mk", and Dovecot refuses names that begin with '~';
//   - control characters U+0000–U+001F and U+007F;
//   - each byte of invalid UTF-8.
//
// Escaping never yields a lone "%" or "%~", so these mark the two special
// forms: the empty component is written "%", and a component whose
// spelling would be longer than dirComponentMax bytes is cut to at most
// dirComponentCut bytes (between characters, never inside a base64 run or
// a %XX escape) and followed by "%~" and 24 hex digits of the SHA-256 of
// the whole component. A cut component cannot be read back: FolderName
// reports it as not ok, and the folder's metadata file keeps the exact
// name. A first component equal to INBOX in any case is written "INBOX".
//
// The escapes are '%' sequences, not base64 runs holding ASCII ("&AC4-"),
// because Dovecot refuses such runs: it lists a directory "&AC4-x" but
// cannot open it.

const (
	dirComponentMax  = 200 // bytes of one directory name
	dirComponentCut  = 150 // bytes kept of a component that is too long
	dirEmptyName     = "%"
	dirCutMark       = "%~"
	dirCutHashDigits = 24
)

// FolderDir maps a server folder name and its hierarchy delimiter (0 = flat,
// no hierarchy) to a relative slash-separated directory under the account's
// mail/ directory. Every component of the result is non-empty, is not "." or
// "..", does not begin with '.' or '~', holds only printable ASCII (no '/')
// and is at most dirComponentMax bytes, so filepath.IsLocal holds for the
// result. Names that split into distinct component lists get distinct
// directories, except that a first component INBOX is matched without
// regard to case, as IMAP does. Ordinary names come out as Dovecot spells
// them: ("Archive/2024", '/') → "Archive/2024", "Entwürfe" → "Entw&APw-rfe",
// "R&D" → "R&-D".
func FolderDir(name string, delim rune) string {
	parts := splitFolderName(name, delim)
	for i, p := range parts {
		parts[i] = dirComponent(p, i == 0 && inboxRule(delim))
	}
	return strings.Join(parts, "/")
}

// FolderName inverts FolderDir: it returns the name that FolderDir maps to
// dir with the same delimiter, and ok=false when there is none (dir was not
// made by FolderDir, or a component of it was cut for length). A first
// component INBOX comes back as "INBOX".
func FolderName(dir string, delim rune) (name string, ok bool) {
	parts := strings.Split(dir, "/")
	if delim == 0 && len(parts) != 1 {
		return "", false
	}
	for i, p := range parts {
		if parts[i], ok = dirComponentName(p); !ok {
			return "", false
		}
	}
	name = strings.Join(parts, string(delim))
	if FolderDir(name, delim) != dir {
		return "", false
	}
	return name, true
}

// inboxRule reports whether a first component INBOX, in any case, is written
// "INBOX". It is not with a delimiter that is an uppercase letter of INBOX:
// the name could not be given back.
func inboxRule(delim rune) bool { return !strings.ContainsRune("INBOX", delim) }

func splitFolderName(name string, delim rune) []string {
	if delim == 0 {
		return []string{name}
	}
	return strings.Split(name, string(delim))
}

// dirComponent spells one component of a folder name as a directory name.
func dirComponent(c string, first bool) string {
	switch {
	case first && strings.EqualFold(c, "INBOX"):
		return "INBOX"
	case c == "":
		return dirEmptyName
	}
	if d := encodeMUTF7(escapeDirComponent(c)); len(d) <= dirComponentMax {
		return d
	}
	return cutDirComponent(c)
}

// escapeDirComponent applies the '%' escapes described above.
func escapeDirComponent(c string) string {
	var b strings.Builder
	for i := 0; i < len(c); {
		r, n := utf8.DecodeRuneInString(c[i:])
		if dirNeedsEscape(r, n, i) {
			fmt.Fprintf(&b, "%%%02X", c[i]) // every escaped character is one byte
		} else {
			b.WriteString(c[i : i+n])
		}
		i += n
	}
	return b.String()
}

func dirNeedsEscape(r rune, size, pos int) bool {
	switch {
	case r == utf8.RuneError && size == 1, r < 0x20, r == 0x7f, r == '%', r == '/':
		return true
	case pos == 0:
		return r == '.' || r == '~'
	}
	return false
}

// cutDirComponent spells a component that is too long: the longest prefix,
// cut between characters, whose spelling fits in dirComponentCut bytes,
// then dirCutMark and a hash of the whole component.
func cutDirComponent(c string) string {
	var ends []int // byte offsets where a character (or invalid byte) ends
	for i := 0; i < len(c); {
		_, n := utf8.DecodeRuneInString(c[i:])
		i += n
		ends = append(ends, i)
	}
	spell := func(end int) string { return encodeMUTF7(escapeDirComponent(c[:end])) }
	fit := sort.Search(len(ends), func(k int) bool { return len(spell(ends[k])) > dirComponentCut })
	prefix := ""
	if fit > 0 {
		prefix = spell(ends[fit-1])
	}
	sum := sha256.Sum256([]byte(c))
	return prefix + dirCutMark + hex.EncodeToString(sum[:dirCutHashDigits/2])
}

// dirComponentName inverts dirComponent for components that were not cut.
func dirComponentName(d string) (string, bool) {
	v, err := decodeMUTF7(d)
	if err != nil {
		return "", false
	}
	if v == dirEmptyName {
		return "", true
	}
	return unescapeDirComponent(v)
}

func unescapeDirComponent(v string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			b.WriteByte(v[i])
			continue
		}
		if i+2 >= len(v) || !isUpperHex(v[i+1]) || !isUpperHex(v[i+2]) {
			return "", false // a cut component, or not made by FolderDir
		}
		x, _ := strconv.ParseUint(v[i+1:i+3], 16, 8)
		b.WriteByte(byte(x))
		i += 2
	}
	return b.String(), true
}

func isUpperHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' }

// isLowerHexString reports whether s is non-empty lowercase hex.
func isLowerHexString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return s != ""
}

// MessageFile is a parsed archive message file name:
//
//	<Key>,S=<Size>,W=<VSize>:2,<Flags>
//
// Key is IMAPKey or POP3Key and never holds ',', ':' or '/'. Size is the
// size of the message, VSize its size with CRLF line ends (Dovecot reads
// both from the name; the file itself is compressed). Flags are Maildir
// letters in ASCII order: the standard flags D F P R S T, then keyword
// letters a–z (see Keywords).
type MessageFile struct {
	Key   string
	Size  int64
	VSize int64
	Flags string
}

// Name returns the file name.
func (m MessageFile) Name() string {
	return m.Key + ",S=" + strconv.FormatInt(m.Size, 10) +
		",W=" + strconv.FormatInt(m.VSize, 10) + ":2," + m.Flags
}

// ParseMessageFile parses a name made by MessageFile.Name. It is strict: a
// name that Name would not produce from valid fields (another key form,
// missing or extra fields, sizes with signs or leading zeros, flags out of
// order or repeated) is an error.
func ParseMessageFile(name string) (MessageFile, error) {
	var m MessageFile
	base, flags, ok := strings.Cut(name, ":2,")
	if !ok {
		return m, fmt.Errorf("message file %q: no \":2,\"", name)
	}
	key, sizes, ok1 := strings.Cut(base, ",S=")
	size, vsize, ok2 := strings.Cut(sizes, ",W=")
	if !ok1 || !ok2 {
		return m, fmt.Errorf("message file %q: want <key>,S=<size>,W=<size>", name)
	}
	if !validMessageKey(key) {
		return m, fmt.Errorf("message file %q: bad key", name)
	}
	if !validFlagLetters(flags) {
		return m, fmt.Errorf("message file %q: bad flags %q", name, flags)
	}
	m = MessageFile{Key: key, Flags: flags}
	var err error
	if m.Size, err = parseFileSize(size); err != nil {
		return MessageFile{}, fmt.Errorf("message file %q: S=: %w", name, err)
	}
	if m.VSize, err = parseFileSize(vsize); err != nil {
		return MessageFile{}, fmt.Errorf("message file %q: W=: %w", name, err)
	}
	return m, nil
}

func parseFileSize(s string) (int64, error) {
	n, ok := parseCanonicalUint(s, 63)
	if !ok {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return int64(n), nil
}

// parseCanonicalUint parses a decimal number as strconv.FormatUint writes it.
func parseCanonicalUint(s string, bits int) (uint64, bool) {
	if s == "" || s[0] < '0' || s[0] > '9' || s[0] == '0' && len(s) > 1 {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, bits)
	return n, err == nil
}

// validFlagLetters reports whether s is a sorted set of Maildir flag letters.
func validFlagLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !strings.ContainsRune("DFPRST", rune(c)) && (c < 'a' || c > 'z') {
			return false
		}
		if i > 0 && s[i-1] >= c {
			return false
		}
	}
	return true
}

func validMessageKey(key string) bool {
	if _, _, ok := ParseIMAPKey(key); ok {
		return true
	}
	_, ok := ParsePOP3Key(key)
	return ok
}

// IMAPKey is the key of an IMAP message: "m<uidvalidity>.<uid>".
func IMAPKey(uidValidity, uid uint32) string {
	return "m" + strconv.FormatUint(uint64(uidValidity), 10) + "." + strconv.FormatUint(uint64(uid), 10)
}

// ParseIMAPKey inverts IMAPKey.
func ParseIMAPKey(key string) (uidValidity, uid uint32, ok bool) {
	rest, ok := strings.CutPrefix(key, "m")
	if !ok {
		return 0, 0, false
	}
	a, b, ok := strings.Cut(rest, ".")
	if !ok {
		return 0, 0, false
	}
	v, ok1 := parseCanonicalUint(a, 32)
	u, ok2 := parseCanonicalUint(b, 32)
	if !ok1 || !ok2 {
		return 0, 0, false
	}
	return uint32(v), uint32(u), true
}

// POP3Key is the key of a POP3 message: "p" and the lowercase hex of its
// UIDL. The UIDL must not be empty; RFC 1939 limits it to 70 bytes, which
// keeps file names under NAME_MAX.
func POP3Key(uidl string) string {
	return "p" + hex.EncodeToString([]byte(uidl))
}

// ParsePOP3Key inverts POP3Key.
func ParsePOP3Key(key string) (uidl string, ok bool) {
	h, ok := strings.CutPrefix(key, "p")
	if !ok || len(h)%2 != 0 || !isLowerHexString(h) {
		return "", false
	}
	raw, err := hex.DecodeString(h)
	return string(raw), err == nil
}

// IsTempName reports whether name is a temp file that mailkeep writes in a
// folder's tmp/: "<Key>.<random lowercase hex>.tmp".
func IsTempName(name string) bool {
	rest, ok := strings.CutSuffix(name, ".tmp")
	i := strings.LastIndexByte(rest, '.')
	if !ok || i < 0 {
		return false
	}
	return isLowerHexString(rest[i+1:]) && validMessageKey(rest[:i])
}
