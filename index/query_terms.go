package index

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// term turns a lexed term into its node.
func (p *parser) term(t token) (Node, error) {
	if t.field == "" {
		return textTerm(t, FieldText)
	}
	if t.value == "" {
		return nil, &QueryError{Term: t.raw, Reason: t.field + ": needs a value"}
	}
	if t.prefix && t.field != "from" && t.field != "to" && t.field != "cc" && t.field != "subject" {
		t.value += "*" // a glob or a literal; the field decides
	}
	switch t.field {
	case "from":
		return textTerm(t, FieldFrom)
	case "to":
		return textTerm(t, FieldTo)
	case "cc":
		return textTerm(t, FieldCc)
	case "subject":
		return textTerm(t, FieldSubject)
	case "after", "before":
		return p.date(t)
	case "larger", "smaller":
		return sizeTerm(t)
	}
	return otherTerm(t)
}

func otherTerm(t token) (Node, error) {
	v := strings.TrimSpace(t.value)
	switch t.field {
	case "message-id":
		id := strings.TrimSuffix(strings.TrimPrefix(v, "<"), ">")
		if id == "" {
			return nil, &QueryError{Term: t.raw, Reason: "message-id: needs a value"}
		}
		return MessageID{ID: id}, nil
	case "folder":
		return Folder{Pattern: t.value}, nil
	case "flag":
		return Flag{Name: flagName(v)}, nil
	case "attachment":
		return attachmentTerm(t, v)
	case "gone":
		return goneTerm(t, v)
	}
	return nil, &QueryError{Term: t.raw, Reason: "unknown field"}
}

// textTerm checks that a text value holds something to search for: the
// tokenizer drops everything but letters and digits.
func textTerm(t token, f Field) (Node, error) {
	if !searchable(t.value) {
		return nil, &QueryError{Term: t.raw, Reason: "has no letter or digit to search for"}
	}
	return Text{Field: f, Value: t.value, Phrase: t.quoted, Prefix: t.prefix}, nil
}

func searchable(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) })
}

// systemFlags maps the names flag: accepts to IMAP system flags.
var systemFlags = map[string]string{"seen": `\Seen`, "flagged": `\Flagged`, "answered": `\Answered`,
	"draft": `\Draft`, "deleted": `\Deleted`, "replied": `\Answered`, "read": `\Seen`}

func flagName(v string) string {
	if f, ok := systemFlags[strings.ToLower(strings.TrimPrefix(v, `\`))]; ok {
		return f
	}
	return v
}

func attachmentTerm(t token, v string) (Node, error) {
	v = strings.TrimLeft(v, "*.")
	if !searchable(v) {
		return nil, &QueryError{Term: t.raw, Reason: "has no letter or digit to search for"}
	}
	return Attachment{Name: v}, nil
}

func goneTerm(t token, v string) (Node, error) {
	switch strings.ToLower(v) {
	case "yes", "true", "1":
		return Gone{Yes: true}, nil
	case "no", "false", "0":
		return Gone{Yes: false}, nil
	}
	return nil, &QueryError{Term: t.raw, Reason: "gone: takes yes or no"}
}

// date reads YYYY-MM-DD (the start of that day in the parser's zone) or
// an RFC 3339 time.
func (p *parser) date(t token) (Node, error) {
	v := strings.TrimSpace(t.value)
	d, err := time.ParseInLocation(time.DateOnly, v, p.loc)
	if err != nil {
		d, err = time.Parse(time.RFC3339Nano, v)
	}
	if err != nil {
		return nil, &QueryError{Term: t.raw, Reason: "takes a date, YYYY-MM-DD or RFC 3339"}
	}
	return Date{Before: t.field == "before", T: d}, nil
}

// sizeTerm reads a byte count with an optional k, M or G suffix (powers
// of 1024, an optional trailing B).
func sizeTerm(t token) (Node, error) {
	n, err := parseSize(strings.TrimSpace(t.value))
	if err != nil {
		return nil, &QueryError{Term: t.raw, Reason: err.Error()}
	}
	return Size{Larger: t.field == "larger", Bytes: n}, nil
}

func parseSize(v string) (int64, error) {
	num := strings.TrimSuffix(strings.TrimSuffix(v, "B"), "i")
	mult := int64(1)
	if num != "" {
		switch num[len(num)-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		}
	}
	if mult > 1 {
		num = num[:len(num)-1]
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("takes a size in bytes, with k, M or G")
	}
	return n * mult, nil
}
