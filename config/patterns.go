package config

import "fmt"

// CheckFolderPattern reports whether p is a folder pattern that
// folders.include would accept: not empty, no lone trailing "\".
func CheckFolderPattern(p string) error {
	if p == "" {
		return fmt.Errorf("empty folder pattern")
	}
	if _, err := compileGlob(p); err != nil {
		return fmt.Errorf("folder pattern %q %w", p, err)
	}
	return nil
}

// MatchFolderPatterns reports whether the folder name matches one of
// patterns, by the rules of folders.include (see Account.MatchFolder): "*"
// matches any run of characters, delimiters included, "?" one character,
// "\" quotes the next one, and a first component INBOX matches in any case.
// No pattern matches nothing.
func MatchFolderPatterns(patterns []string, name string) bool {
	return matchAny(patterns, foldInbox([]rune(name)))
}
