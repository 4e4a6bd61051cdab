package restore

import (
	"strings"
)

// targetNamer maps archive folder names to folder names on the target.
//
// A source name is split on its own server's delimiter and joined again
// with the target's, below the --into prefix if one is given. A first
// component INBOX (in any case) is the target's INBOX. A component that
// contains the target's delimiter would split into two levels there; the
// delimiter in it is replaced (by '_', or '-' when the delimiter is '_'),
// so the folder still lands as one folder, and the new name is logged. On
// a target without hierarchy (no delimiter) the name is kept whole.
type targetNamer struct {
	delim   rune     // the target's hierarchy delimiter; 0 = flat
	into    []string // prefix components
	rawInto string   // the prefix as given, for a flat target
}

func newTargetNamer(delim rune, into string) targetNamer {
	return targetNamer{delim: delim, into: splitInto(into, delim), rawInto: into}
}

// splitInto splits the --into prefix on '/' and on the target's delimiter,
// dropping empty components ("Restored/" is the folder "Restored").
func splitInto(into string, delim rune) []string {
	return strings.FieldsFunc(into, func(r rune) bool { return r == '/' || r == delim })
}

// name returns the target name of the source folder (name, delim) and
// whether a component had to be changed.
func (n targetNamer) name(name string, delim rune) (string, bool) {
	parts := []string{name}
	if delim != 0 {
		parts = strings.Split(name, string(delim))
	}
	if strings.EqualFold(parts[0], "INBOX") {
		parts[0] = "INBOX"
	}
	if n.delim == 0 {
		return n.rawInto + strings.Join(parts, string(delim)), false
	}
	changed := false
	out := make([]string, 0, len(n.into)+len(parts))
	out = append(out, n.into...)
	for _, p := range parts {
		if strings.ContainsRune(p, n.delim) {
			p = strings.ReplaceAll(p, string(n.delim), string(n.substitute()))
			changed = true
		}
		out = append(out, p)
	}
	return strings.Join(out, string(n.delim)), changed
}

func (n targetNamer) substitute() rune {
	if n.delim == '_' {
		return '-'
	}
	return '_'
}

// isInbox reports whether a target name is the INBOX.
func isInbox(name string) bool { return strings.EqualFold(name, "INBOX") }

// nameKey is the form of a target name used as a map key.
func nameKey(name string) string {
	if isInbox(name) {
		return "INBOX"
	}
	return name
}
