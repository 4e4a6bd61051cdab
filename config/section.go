package config

import (
	"fmt"
	"strings"
)

// section is the part of the file a message is about: the top level, or
// one account.
type section struct {
	p      *parser
	label  string          // `account "work"`; "" at the top level
	line   int             // where the section starts; 0 for the top level
	lines  map[string]int  // dotted key → line of the key
	broken map[string]bool // keys whose value did not decode
	skip   bool            // the section did not decode: no further checks
}

func (p *parser) newSection(label string, line int) *section {
	return &section{p: p, label: label, line: line, lines: map[string]int{}, broken: map[string]bool{}}
}

// prefix starts a message about the section.
func (s *section) prefix() string {
	if s.label == "" {
		return ""
	}
	return s.label + ": "
}

// errorf records a problem with key (dotted, e.g. "pop3.mode") at the key's
// line; if the key is not in the file, at the line of the nearest enclosing
// key that is ("pop3"), else at the section's line. A key whose
// value already failed to decode, or a section that did not decode, gets no
// second message.
func (s *section) errorf(key, format string, args ...any) {
	if s.skip || s.broken[key] {
		return
	}
	line := s.lineOf(key)
	s.p.addf(line, "%s%s", s.prefix(), fmt.Sprintf(format, args...))
}

// given reports whether key is written in the section.
func (s *section) given(key string) bool {
	_, ok := s.lines[key]
	return ok
}

// lineOf returns the line of key or of its nearest enclosing key, or the
// section's line.
func (s *section) lineOf(key string) int {
	for key != "" {
		if line, ok := s.lines[key]; ok {
			return line
		}
		key, _ = cutLast(key, ".")
	}
	return s.line
}

// cutLast cuts s around the last sep; without one, before is "".
func cutLast(s, sep string) (before, after string) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):]
	}
	return "", s
}
