package restore

import (
	"strings"

	"github.com/mailkeep/mailkeep/archive"
)

// splitInto splits the --into prefix on '/' and on the target's delimiter,
// dropping empty components ("Restored/" is the folder "Restored").
func splitInto(into string, delim rune) []string {
	return strings.FieldsFunc(into, func(r rune) bool { return r == '/' || r == delim })
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

// inferPrefix guesses a personal namespace prefix from folder names, for
// a side whose NAMESPACE is unknown: "INBOX" and the delimiter when every
// folder but INBOX is below INBOX (the layout of Courier and of Cyrus's
// standard namespace), else none.
func inferPrefix(names []string, delims []rune) string {
	prefix := ""
	for i, name := range names {
		if isInbox(name) {
			continue
		}
		if delims[i] == 0 {
			return ""
		}
		p := "INBOX" + string(delims[i])
		if len(name) <= len(p) || !strings.EqualFold(name[:len(p)], p) || prefix != "" && p != prefix {
			return ""
		}
		prefix = p
	}
	return prefix
}

// sourceNamespace returns the source's personal prefix: as the backup
// recorded it, else inferred from the archive's folder names.
func sourceNamespace(ns archive.Namespace, known bool, folders []archive.ViewFolder) (prefix, from string) {
	if known {
		return ns.Prefix, "NAMESPACE"
	}
	names, delims := make([]string, len(folders)), make([]rune, len(folders))
	for i, f := range folders {
		names[i], delims[i] = f.Name, firstRune(f.Delim)
	}
	return inferPrefix(names, delims), "names"
}
