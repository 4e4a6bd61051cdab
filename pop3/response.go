package pop3

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

const (
	// maxLineLen bounds every line that is not message data: status lines,
	// CAPA, LIST and UIDL lines. RFC 1939 allows 512 octets; servers in the
	// wild send a little more, never kilobytes.
	maxLineLen = 8 << 10
	// maxMessages bounds message numbers, STAT counts and the entries of
	// one LIST or UIDL, so that a hostile server cannot make the client
	// hold an unbounded listing.
	maxMessages = 1 << 22
	// maxCapabilities bounds the lines of a CAPA answer.
	maxCapabilities = 256
)

// errProtocol marks an answer that breaks RFC 1939. The connection is
// closed after one: what follows it cannot be trusted.
var errProtocol = errors.New("protocol violation")

// status is the kind of a response line.
type status int

const (
	statusOK   status = iota // +OK
	statusErr                // -ERR
	statusCont               // "+ " SASL continuation (RFC 5034)
)

// parseStatus splits a response line (without its line end) into its status
// indicator and the text after it.
func parseStatus(line string) (status, string, error) {
	if text, ok := cutIndicator(line, "+OK"); ok {
		return statusOK, text, nil
	}
	if text, ok := cutIndicator(line, "-ERR"); ok {
		return statusErr, text, nil
	}
	if line == "+" || strings.HasPrefix(line, "+ ") {
		return statusCont, strings.TrimPrefix(line[1:], " "), nil
	}
	return 0, "", fmt.Errorf("%w: response %s is neither +OK nor -ERR", errProtocol, quote(line))
}

// cutIndicator returns the text after indicator when line starts with it
// (in any case) followed by a space or nothing.
func cutIndicator(line, indicator string) (string, bool) {
	if len(line) < len(indicator) || !strings.EqualFold(line[:len(indicator)], indicator) {
		return "", false
	}
	rest := line[len(indicator):]
	if rest == "" {
		return "", true
	}
	if rest[0] != ' ' {
		return "", false
	}
	return rest[1:], true
}

// parseUint parses a decimal number of at most max: ASCII digits only, no
// sign, no spaces, no overflow.
func parseUint(s string, max int64) (int64, error) {
	if s == "" || len(s) > 20 {
		return 0, fmt.Errorf("%w: bad number %s", errProtocol, quote(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: bad number %s", errProtocol, quote(s))
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > max {
		return 0, fmt.Errorf("%w: number %s out of range", errProtocol, quote(s))
	}
	return n, nil
}

// parseMsgNum parses a message number (1 to maxMessages).
func parseMsgNum(s string) (int, error) {
	n, err := parseUint(s, maxMessages)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, fmt.Errorf("%w: message number 0", errProtocol)
	}
	return int(n), nil
}

// parseSize parses a size in octets.
func parseSize(s string) (int64, error) {
	const maxSize = 1 << 53 // far beyond any mailbox, far below overflow in sums
	return parseUint(s, maxSize)
}

// parseStat parses the text after +OK to STAT: "count size", maybe followed
// by text the client ignores.
func parseStat(text string) (int, int64, error) {
	f := strings.Fields(text)
	if len(f) < 2 {
		return 0, 0, fmt.Errorf("%w: STAT answer %s lacks count and size", errProtocol, quote(text))
	}
	count, err := parseUint(f[0], maxMessages)
	if err != nil {
		return 0, 0, err
	}
	size, err := parseSize(f[1])
	if err != nil {
		return 0, 0, err
	}
	return int(count), size, nil
}

// parseListLine parses one line of a LIST or UIDL listing: a message number
// and one more token (a size or a unique-id).
func parseListLine(line string) (int, string, error) {
	// The usual line, "1 value", without splitting it into a slice.
	if n, v, ok := strings.Cut(line, " "); ok && n != "" && v != "" && !hasSpace(n) && !hasSpace(v) {
		num, err := parseMsgNum(n)
		return num, v, err
	}
	f := strings.Fields(line)
	if len(f) != 2 {
		return 0, "", fmt.Errorf("%w: listing line %s is not \"number value\"", errProtocol, quote(line))
	}
	num, err := parseMsgNum(f[0])
	if err != nil {
		return 0, "", err
	}
	return num, f[1], nil
}

// hasSpace reports whether s holds white space, as strings.Fields sees it.
func hasSpace(s string) bool { return strings.IndexFunc(s, unicode.IsSpace) >= 0 }

// parseCapa adds one CAPA line to caps: the name (upper-cased) and its
// arguments.
func parseCapa(caps map[string][]string, line string) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return
	}
	caps[strings.ToUpper(f[0])] = f[1:]
}

// quote renders server text for an error message, cut short.
func quote(s string) string {
	const max = 100
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}
