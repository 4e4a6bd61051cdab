package archive

import (
	"path/filepath"
	"slices"
	"strings"
)

// fileSet is a folder's published message files, for a pass that matches
// each catalog row with its file and then takes what is left for orphans
// (verify). It holds the names sorted, not parsed: a name costs its bytes
// and a string header, where a map of parsed files cost several times
// that (224 MiB to verify a 500,000-message folder).
type fileSet struct {
	names []string // sorted; a key has no ',', so by key too
	taken []bool
}

// scanSet lists the folder's files like Scan: message files in cur/,
// everything else in others.
func (f *Folder) scanSet() (*fileSet, []string, error) {
	s := &fileSet{}
	var others []string
	for _, sub := range []string{"cur", "new"} {
		err := eachName(filepath.Join(f.Dir, sub), func(name string) {
			if _, err := ParseMessageFile(name); err != nil || sub == "new" {
				others = append(others, sub+"/"+name)
				return
			}
			s.names = append(s.names, name)
		})
		if err != nil {
			return nil, nil, err
		}
	}
	slices.Sort(s.names)
	slices.Sort(others)
	s.taken = make([]bool, len(s.names))
	return s, others, nil
}

// take finds the file of key not taken yet, and takes it.
func (s *fileSet) take(key string) (MessageFile, bool) {
	prefix := key + ","
	i, _ := slices.BinarySearch(s.names, prefix)
	for ; i < len(s.names) && strings.HasPrefix(s.names[i], prefix); i++ {
		if !s.taken[i] {
			s.taken[i] = true
			mf, _ := ParseMessageFile(s.names[i]) // parsed when listed
			return mf, true
		}
	}
	return MessageFile{}, false
}

// left calls fn with each file not taken, in name order, until fn fails.
func (s *fileSet) left(fn func(MessageFile) error) error {
	for i, name := range s.names {
		if s.taken[i] {
			continue
		}
		mf, _ := ParseMessageFile(name)
		if err := fn(mf); err != nil {
			return err
		}
	}
	return nil
}
