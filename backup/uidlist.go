package backup

import (
	"fmt"
	"iter"
	"slices"
	"sort"

	"github.com/emersion/go-imap/v2"
)

// uidList is an ascending set of UIDs kept as runs of consecutive UIDs. A
// folder's UIDs are mostly such runs, so the list of a 500,000-message
// folder takes a few runs where a slice of its UIDs took 2 MiB, held for
// the whole of its first sync.
type uidList struct {
	runs []imap.UIDRange // ascending, disjoint, not adjacent; Start <= Stop
	at   []int           // at[i] counts the UIDs before runs[i]
	n    int
}

// uidListOf makes the list of the UIDs of set, in any order and
// overlapping or not, refusing sets larger than limit: a server's answer
// is not trusted with memory.
func uidListOf(set imap.UIDSet, limit int) (uidList, error) {
	runs := make([]imap.UIDRange, 0, len(set))
	n := 0
	for _, r := range set {
		lo, hi := min(r.Start, r.Stop), max(r.Start, r.Stop)
		if lo == 0 || int(hi-lo) >= limit-n {
			return uidList{}, fmt.Errorf("server answered SEARCH with an implausible UID set (%v)", r)
		}
		n += int(hi-lo) + 1
		runs = append(runs, imap.UIDRange{Start: lo, Stop: hi})
	}
	slices.SortFunc(runs, func(a, b imap.UIDRange) int { return int(a.Start) - int(b.Start) })
	var l uidList
	for _, r := range runs {
		l.addRun(r)
	}
	return l, nil
}

// add appends uid, which is above every UID of l.
func (l *uidList) add(uid imap.UID) { l.addRun(imap.UIDRange{Start: uid, Stop: uid}) }

// addRun appends the UIDs of r, none of which is below l's last run's
// start; it may overlap or adjoin that run.
func (l *uidList) addRun(r imap.UIDRange) {
	if k := len(l.runs) - 1; k >= 0 && uint64(r.Start) <= uint64(l.runs[k].Stop)+1 {
		if r.Stop > l.runs[k].Stop {
			l.n += int(r.Stop - l.runs[k].Stop)
			l.runs[k].Stop = r.Stop
		}
		return
	}
	l.runs = append(l.runs, r)
	l.at = append(l.at, l.n)
	l.n += int(r.Stop-r.Start) + 1
}

func (l uidList) len() int { return l.n }

// run returns the index of the first run that ends at or above uid.
func (l uidList) run(uid imap.UID) int {
	return sort.Search(len(l.runs), func(i int) bool { return l.runs[i].Stop >= uid })
}

// place returns where uid is in l, counting from 0, if l holds it.
func (l uidList) place(uid imap.UID) (int, bool) {
	i := l.run(uid)
	if i == len(l.runs) || l.runs[i].Start > uid {
		return 0, false
	}
	return l.at[i] + int(uid-l.runs[i].Start), true
}

func (l uidList) contains(uid imap.UID) bool {
	_, ok := l.place(uid)
	return ok
}

// below counts l's UIDs under uid.
func (l uidList) below(uid imap.UID) int {
	i := l.run(uid)
	switch {
	case i == len(l.runs):
		return l.n
	case l.runs[i].Start >= uid:
		return l.at[i]
	}
	return l.at[i] + int(uid-l.runs[i].Start)
}

// from returns the list of l's UIDs from uid on.
func (l uidList) from(uid imap.UID) uidList {
	var out uidList
	for _, r := range l.runs[l.run(uid):] {
		r.Start = max(r.Start, uid)
		out.addRun(r)
	}
	return out
}

// all yields l's UIDs in ascending order.
func (l uidList) all() iter.Seq[imap.UID] {
	return func(yield func(imap.UID) bool) {
		for _, r := range l.runs {
			for uid := r.Start; ; uid++ { // up to Stop, which may be the largest UID
				if !yield(uid) {
					return
				}
				if uid == r.Stop {
					break
				}
			}
		}
	}
}

// chunks yields l's UIDs up to n at a time, each chunk a new slice.
func (l uidList) chunks(n int) iter.Seq[[]imap.UID] {
	return func(yield func([]imap.UID) bool) {
		var chunk []imap.UID
		for uid := range l.all() {
			if chunk == nil {
				chunk = make([]imap.UID, 0, min(n, l.n))
			}
			if chunk = append(chunk, uid); len(chunk) == n {
				if !yield(chunk) {
					return
				}
				chunk = nil
			}
		}
		if len(chunk) > 0 {
			yield(chunk)
		}
	}
}

// set is l as an IMAP UID set.
func (l uidList) set() imap.UIDSet { return slices.Clone(l.runs) }
