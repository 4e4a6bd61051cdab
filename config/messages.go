package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decodeError records what Node.Decode reported for section s. yaml.v3
// gives type problems as "line N: ..." strings in a *yaml.TypeError and
// stops at anything worse with a plain error; both are rewritten to name
// the key and the section.
func (p *parser) decodeError(err error, s *section) {
	var te *yaml.TypeError
	switch {
	case err == nil:
	case errors.As(err, &te):
		for _, e := range te.Errors {
			p.typeProblem(e, s)
		}
	default:
		line, msg := splitLine(yamlMessage(err))
		p.addf(lineOr(line, s.line), "%s%s", s.prefix(), p.redact(msg))
		s.skip = true // decoding stopped half-way: further checks would mislead
	}
}

func (p *parser) typeProblem(e string, s *section) {
	line, msg := splitLine(e)
	if m := duplicateRE.FindStringSubmatch(msg); m != nil {
		// yaml.v3 leaves a mapping with a repeated key undecoded.
		s.skip = true
		msg = fmt.Sprintf("%s: given twice (first at line %s)", m[1], m[2])
	} else if key := p.keyAt[line]; key != "" {
		s.broken[key] = true
		msg = key + ": " + humanize(msg)
	} else {
		msg = humanize(msg)
	}
	p.addf(lineOr(line, s.line), "%s%s", s.prefix(), p.redact(msg))
}

// lineOr returns line, or fallback if line is unknown (0).
func lineOr(line, fallback int) int {
	if line == 0 {
		return fallback
	}
	return line
}

// redact hides password values in a message that quotes file contents.
// yaml.v3 shortens long values to their first 7 bytes and "...": hide that
// form too.
func (p *parser) redact(msg string) string {
	for _, s := range p.secrets {
		msg = strings.ReplaceAll(msg, s, "<redacted>")
		if len(s) > 10 {
			msg = strings.ReplaceAll(msg, s[:7]+"...", "<redacted>")
		}
	}
	return msg
}

func yamlMessage(err error) string {
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

// splitLine splits "line N: message" into N and message; other text comes
// back whole with line 0.
func splitLine(s string) (int, string) {
	rest, ok := strings.CutPrefix(s, "line ")
	num, msg, ok2 := strings.Cut(rest, ": ")
	line, err := strconv.Atoi(num)
	if !ok || !ok2 || err != nil || line < 0 {
		return 0, s
	}
	return line, msg
}

var duplicateRE = regexp.MustCompile(`^mapping key "(.*)" already defined at line (\d+)$`)

var unmarshalRE = regexp.MustCompile("(?s)^cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")

// humanize rewrites yaml.v3's "cannot unmarshal !!str `abc` into int" as
// `want an integer, got "abc"`. Other messages are returned unchanged.
func humanize(msg string) string {
	m := unmarshalRE.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	return fmt.Sprintf("want %s, got %s", goTypeWords(m[3]), yamlWords(m[1], m[2]))
}

func goTypeWords(t string) string {
	switch t {
	case "int":
		return "a whole number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "[]string":
		return "a list of strings"
	case "[]yaml.Node":
		return "a list of accounts"
	case "[]config.Replica":
		return "a list of replicas (each an s3 or a dir mapping)"
	}
	if strings.HasPrefix(t, "config.") {
		return "a mapping of keys"
	}
	return t
}

func yamlWords(tag, value string) string {
	switch tag {
	case "map":
		return "a mapping"
	case "seq":
		return "a list"
	}
	return strconv.Quote(value)
}

// suggest returns ` (did you mean "x"?)` for the known key closest to key,
// or "" if none is close.
func suggest(key string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		d := editDistance(key, k)
		if len(key) >= 3 && strings.HasPrefix(k, key) {
			d = 0 // "prot" is short for "protocol" rather than a typo of "port"
		}
		if d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance of short strings; long ones are
// simply far apart.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
