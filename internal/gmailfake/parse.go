package gmailfake

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// A command's arguments: atom (a bare word, brackets and all), string (a
// quoted string or a literal) and list (a parenthesized list).
type (
	atom string
	list []any
)

// reader reads commands, answering synchronizing literals with a
// continuation request.
type reader struct {
	br   *bufio.Reader
	w    *bufio.Writer
	line string
	pos  int
}

var errSyntax = errors.New("syntax error")

// command reads one command: its tag and its arguments.
func (r *reader) command() (string, []any, error) {
	if err := r.next(); err != nil {
		return "", nil, err
	}
	args, err := r.items(false)
	if err != nil {
		return "", nil, err
	}
	if len(args) == 0 {
		return "", nil, errSyntax
	}
	tag, ok := args[0].(atom)
	if !ok {
		return "", nil, errSyntax
	}
	return string(tag), args[1:], nil
}

func (r *reader) next() error {
	line, err := r.br.ReadString('\n')
	if err != nil {
		return err
	}
	r.line, r.pos = strings.TrimRight(line, "\r\n"), 0
	return nil
}

// items reads arguments up to the end of the command, or of a list.
func (r *reader) items(inList bool) ([]any, error) {
	var out []any
	for {
		for r.pos < len(r.line) && r.line[r.pos] == ' ' {
			r.pos++
		}
		if r.pos >= len(r.line) {
			if inList {
				return nil, errSyntax
			}
			return out, nil
		}
		switch c := r.line[r.pos]; c {
		case ')':
			if !inList {
				return nil, errSyntax
			}
			r.pos++
			return out, nil
		case '(':
			r.pos++
			l, err := r.items(true)
			if err != nil {
				return nil, err
			}
			out = append(out, list(l))
		case '"':
			s, err := r.quoted()
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		case '{':
			s, err := r.literal()
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		default:
			out = append(out, r.atom())
		}
	}
}

func (r *reader) atom() atom {
	start, depth := r.pos, 0
	for r.pos < len(r.line) {
		c := r.line[r.pos]
		switch {
		case c == '[':
			depth++
		case c == ']':
			depth--
		case depth == 0 && (c == ' ' || c == '(' || c == ')'):
			return atom(r.line[start:r.pos])
		}
		r.pos++
	}
	return atom(r.line[start:r.pos])
}

func (r *reader) quoted() (string, error) {
	var sb strings.Builder
	for r.pos++; r.pos < len(r.line); r.pos++ {
		c := r.line[r.pos]
		switch c {
		case '\\':
			r.pos++
			if r.pos < len(r.line) {
				sb.WriteByte(r.line[r.pos])
			}
		case '"':
			r.pos++
			return sb.String(), nil
		default:
			sb.WriteByte(c)
		}
	}
	return "", errSyntax
}

// literal reads {n} or {n+} at the end of the line, then n bytes, and
// goes on with the line after them.
func (r *reader) literal() (string, error) {
	end := strings.IndexByte(r.line[r.pos:], '}')
	if end < 0 || r.pos+end != len(r.line)-1 {
		return "", errSyntax
	}
	spec := r.line[r.pos+1 : r.pos+end]
	sync := !strings.HasSuffix(spec, "+")
	n, err := strconv.Atoi(strings.TrimSuffix(spec, "+"))
	if err != nil || n < 0 || n > 64<<20 {
		return "", errSyntax
	}
	if sync {
		fmt.Fprint(r.w, "+ go ahead\r\n")
		if err := r.w.Flush(); err != nil {
			return "", err
		}
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r.br, buf); err != nil {
		return "", err
	}
	if err := r.next(); err != nil {
		return "", err
	}
	return string(buf), nil
}

// text returns an argument as text: an atom's word or a string.
func text(v any) string {
	switch v := v.(type) {
	case atom:
		return string(v)
	case string:
		return v
	}
	return ""
}
