package restore

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/emersion/go-imap/v2"

	"github.com/mailkeep/mailkeep/archive"
)

// Folder mapping: where each archive folder goes on the target. The rules,
// in order (doc/design.md, "Folder names on the target"):
//
//  1. --map OLD=NEW: the folder OLD, and the folders below it, go to NEW
//     (and below it). The rule naming the deepest level wins.
//  2. Special use: the archive folder of a role (\Sent, \Drafts, \Trash,
//     \Junk, \Archive, \All, \Flagged) goes to the target's folder of that
//     role, whatever either is called, and the folders below it follow.
//     A folder has a role by its special-use attribute, recorded at backup;
//     for a role that no folder of a side carries as an attribute, by a
//     built-in list of common names (roleNames). Where the target has no
//     folder of the role, the folder keeps its name and is created with
//     the role where the target has CREATE-SPECIAL-USE.
//  3. Every other folder keeps its name, less the source's personal
//     namespace prefix ("INBOX.Sent" from Courier is "Sent").
//
// The result is put below --into, then below the target's personal prefix
// (a folder whose first level is INBOX goes below the target's INBOX
// instead), its levels joined with the target's delimiter. A level that
// holds the delimiter, or is empty, cannot be held by the target; two
// folders that map to one name would be merged. Either way the folder is
// not restored, with an error that names it and suggests a --map; the
// other folders go on.

// Mapping is how a restore names folders on the target.
type Mapping struct {
	// SourcePrefix is the source's personal namespace prefix, stripped
	// from the archive's folder names. SourcePrefixFrom says how it is
	// known: "NAMESPACE" (recorded at backup) or "names" (inferred from
	// the folder names, for an archive that has none recorded).
	SourcePrefix, SourcePrefixFrom string
	Target                         Target
	Folders                        []FolderMapping // in archive name order
}

// Target is what a restore learnt of the target server.
type Target struct {
	Delim string // hierarchy delimiter, "" when flat
	// Prefix is the personal namespace prefix; PrefixFrom says how it is
	// known: "NAMESPACE", or "LIST" (inferred from the folder names, on a
	// server without NAMESPACE).
	Prefix, PrefixFrom string
	// SpecialUse says how the folders' special-use attributes were read:
	// "RETURN (SPECIAL-USE)", or "LIST" (whatever LIST gives) on a server
	// without SPECIAL-USE or LIST-EXTENDED.
	SpecialUse       string
	CreateSpecialUse bool // CREATE … (USE (…)) is offered
}

// How a folder's target name was decided.
const (
	RuleMap        = "--map"
	RuleSpecialUse = "special use"
	RuleName       = "name"
)

// FolderMapping is where one archive folder goes on the target, and why.
type FolderMapping struct {
	Source string // the archive folder, as the source server spelled it
	Target string // the target folder; "" when it cannot be restored
	Rule   string // RuleMap, RuleSpecialUse or RuleName
	// Role is the folder's special use on the source, if it has one;
	// RoleByName says it was given by the folder's name, not an attribute.
	Role       string
	RoleByName bool
	// Under is the archive folder whose --map or role this folder
	// follows, when that is a parent of it.
	Under string
	// Create: the target folder does not exist yet; CreateUse: it is
	// created with this special use (CREATE-SPECIAL-USE).
	Create    bool
	CreateUse string
	Err       error // why the folder cannot be restored
	Selected  bool  // restored by this run (see Options.Folders)
}

// ErrFolderName reports an archive folder whose name the target cannot
// hold, or that would be merged with another folder.
var ErrFolderName = errors.New("cannot be restored under its name")

// MapRule is one --map OLD=NEW: the archive folder OLD, as the source
// server spelled it, goes to NEW on the target, levels separated by "/" or
// the target's delimiter, relative to the target's personal namespace.
type MapRule struct{ From, To string }

// ParseMapRule parses OLD=NEW. A "=" or "\" inside a name is written "\="
// or "\\".
func ParseMapRule(s string) (MapRule, error) {
	var parts [2]strings.Builder
	side, escaped := 0, false
	for _, r := range s {
		switch {
		case escaped:
			escaped = false
		case r == '\\':
			escaped = true
			continue
		case r == '=' && side == 0:
			side = 1
			continue
		}
		parts[side].WriteRune(r)
	}
	rule := MapRule{parts[0].String(), parts[1].String()}
	if side == 0 || escaped || rule.From == "" || rule.To == "" {
		return MapRule{}, fmt.Errorf("--map %q: want OLD=NEW, with \\= for a = inside a name", s)
	}
	return rule, nil
}

// String writes the rule as --map takes it.
func (r MapRule) String() string {
	esc := strings.NewReplacer(`\`, `\\`, `=`, `\=`)
	return esc.Replace(r.From) + "=" + esc.Replace(r.To)
}

// targetFolder is a selectable folder of the target.
type targetFolder struct {
	name string
	use  []string
}

// mapper computes a Mapping.
type mapper struct {
	srcPrefix string
	dst       Target
	delim     rune           // the target's delimiter
	existing  []targetFolder // the target's selectable folders
	rules     map[string]MapRule
	into      []string
	rawInto   string

	rels   map[string][]string // by archive folder: its relative target name, set by mapFolders
	mapped map[string]bool     // target names given out (by nameKey), set by mapFolders
}

// anchor is a folder whose target name comes from a --map or a role, with
// the folders below it.
type anchor struct {
	rel       []string
	rule      string
	createUse string
}

// mapFolders maps every archive folder; selected says which are restored
// (nil: all). Roles are given over all folders, so that a folder maps to
// the same name whichever folders a run restores.
func (m *mapper) mapFolders(folders []archive.ViewFolder, selected func(string) bool) []FolderMapping {
	out := make([]FolderMapping, len(folders))
	rels := make([][]string, len(folders))
	anchors := m.roleAnchors(folders, out)
	for i, f := range folders {
		out[i].Source, out[i].Selected = f.Name, selected == nil || selected(f.Name)
		rels[i] = m.mapOne(&out[i], f, anchors)
	}
	m.rels, m.mapped = map[string][]string{}, map[string]bool{}
	for i, fm := range out {
		m.rels[fm.Source] = rels[i]
		if fm.Err == nil {
			m.mapped[nameKey(fm.Target)] = true
		}
	}
	for i := range out {
		if fm := &out[i]; fm.Err != nil {
			fm.Err = fmt.Errorf("%w: %w; restore it with --map %s", ErrFolderName, fm.Err,
				shellQuote(MapRule{fm.Source, m.suggest(rels[i], m.taken, false)}.String()))
		}
	}
	m.refuseCollisions(out, rels, m.taken)
	return out
}

// taken says whether the mapping gives out a target name.
func (m *mapper) taken(name string) bool { return m.mapped[nameKey(name)] }

// suggestFor proposes a --map for a folder whose target the server
// refused to create: every character but letters, digits, space, "-" and
// "_" replaced.
func (m *mapper) suggestFor(source string) string {
	return shellQuote(MapRule{source, m.suggest(m.rels[source], m.taken, true)}.String())
}

// mapOne finds the folder's relative target name, from the deepest --map
// or role anchor at or above it, else from its own name, and places it on
// the target. It returns the relative name.
func (m *mapper) mapOne(fm *FolderMapping, f archive.ViewFolder, anchors map[string]anchor) []string {
	delim := firstRune(f.Delim)
	comps := splitName(f.Name, delim)
	rel := m.sourceRel(f.Name, delim)
	fm.Rule = RuleName
	for n := len(comps); n >= 1; n-- {
		key := strings.Join(comps[:n], string(delim))
		if rule, ok := m.rules[key]; ok {
			rel = slices.Concat(m.toRel(rule.To), comps[n:])
			fm.Rule = RuleMap
		} else if a, ok := anchors[key]; ok {
			rel = slices.Concat(a.rel, comps[n:])
			fm.Rule = a.rule
			if n == len(comps) {
				fm.CreateUse = a.createUse
			}
		} else {
			continue
		}
		if n < len(comps) {
			fm.Under = key
		}
		break
	}
	if fm.Target, fm.Err = m.targetName(rel, delim); fm.Err != nil {
		fm.Target = ""
	}
	return rel
}

// roleAnchors gives out the roles of the source's folders (recording each
// in out) and returns, by archive folder name, where each role folder goes.
func (m *mapper) roleAnchors(folders []archive.ViewFolder, out []FolderMapping) map[string]anchor {
	anchors := map[string]anchor{}
	owner := m.sourceRoles(folders)
	for _, role := range roles {
		i, ok := owner[role]
		if !ok {
			continue
		}
		f := folders[i.index]
		out[i.index].Role, out[i.index].RoleByName = string(role), i.byName
		src := m.sourceRel(f.Name, firstRune(f.Delim))
		a := anchor{rel: src, rule: RuleSpecialUse}
		if rel, ok := m.targetRole(role, src); ok {
			a.rel = rel
		} else if m.dst.CreateSpecialUse && len(m.into) == 0 {
			a.createUse = string(role)
		}
		delim := firstRune(f.Delim)
		anchors[strings.Join(splitName(f.Name, delim), string(delim))] = a // as mapOne looks it up
	}
	return anchors
}

type roleOwner struct {
	index  int
	byName bool
}

// sourceRoles returns the archive folder of each role: the first folder
// that carries the role as an attribute or, for a role that no folder
// carries, the folder with the role's earliest name.
func (m *mapper) sourceRoles(folders []archive.ViewFolder) map[imap.MailboxAttr]roleOwner {
	owner := map[imap.MailboxAttr]roleOwner{}
	taken := map[int]bool{}
	for i, f := range folders {
		if r, ok := roleOf(archive.SplitFlags(f.SpecialUse)); ok && !isInbox(f.Name) {
			if _, dup := owner[r]; !dup {
				owner[r], taken[i] = roleOwner{index: i}, true
			}
		}
	}
	best := map[imap.MailboxAttr]int{} // rank of the owner's name
	for i, f := range folders {
		r, rank, ok := roleByName(m.sourceRel(f.Name, firstRune(f.Delim)))
		if !ok || taken[i] || slices.ContainsFunc(folders, func(g archive.ViewFolder) bool {
			return hasRole(archive.SplitFlags(g.SpecialUse), r)
		}) {
			continue
		}
		if prev, dup := owner[r]; !dup || rank < best[r] {
			if dup {
				delete(taken, prev.index)
			}
			owner[r], best[r], taken[i] = roleOwner{index: i, byName: true}, rank, true
		}
	}
	return owner
}

// targetRole returns the relative name of the target's folder of a role:
// by attribute, or by name when no target folder carries the role. Of
// several, the one named as the source folder (src) is preferred, then the
// first by attribute or the earliest name.
func (m *mapper) targetRole(role imap.MailboxAttr, src []string) ([]string, bool) {
	var found []string
	bestRank := -1
	byAttr := slices.ContainsFunc(m.existing, func(t targetFolder) bool { return hasRole(t.use, role) })
	for _, t := range m.existing {
		rel := m.targetRel(t.name)
		rank := 0
		if byAttr {
			if !hasRole(t.use, role) {
				continue
			}
		} else if r, k, ok := roleByName(rel); !ok || r != role {
			continue
		} else {
			rank = k
		}
		if slices.EqualFunc(rel, src, strings.EqualFold) {
			return rel, true
		}
		if bestRank < 0 || rank < bestRank {
			found, bestRank = rel, rank
		}
	}
	return found, bestRank >= 0
}

func hasRole(use []string, role imap.MailboxAttr) bool {
	return slices.ContainsFunc(use, func(u string) bool { return strings.EqualFold(u, string(role)) })
}

// sourceRel splits an archive folder name into levels, without the
// source's personal prefix.
func (m *mapper) sourceRel(name string, delim rune) []string {
	return relative(name, delim, m.srcPrefix)
}

// targetRel is the same for a target folder.
func (m *mapper) targetRel(name string) []string { return relative(name, m.delim, m.dst.Prefix) }

// relative splits name on delim after taking prefix off; INBOX, in any
// case, is spelled INBOX.
func relative(name string, delim rune, prefix string) []string {
	if prefix != "" && len(name) > len(prefix) && strings.EqualFold(name[:len(prefix)], prefix) {
		name = name[len(prefix):]
	}
	return splitName(name, delim)
}

func splitName(name string, delim rune) []string {
	parts := []string{name}
	if delim != 0 {
		parts = strings.Split(name, string(delim))
	}
	if isInbox(parts[0]) {
		parts[0] = "INBOX"
	}
	return parts
}

// toRel splits a --map target into levels, on "/" and the target's
// delimiter, without the target's prefix if it was written with it.
func (m *mapper) toRel(to string) []string {
	if p := m.dst.Prefix; p != "" && len(to) > len(p) && strings.EqualFold(to[:len(p)], p) {
		to = to[len(p):]
	}
	parts := strings.FieldsFunc(to, func(r rune) bool { return r == '/' || r == m.delim })
	if len(parts) > 0 && isInbox(parts[0]) {
		parts[0] = "INBOX"
	}
	return parts
}

// targetName places relative levels on the target: below --into, and
// below the personal prefix, or below INBOX when the first level is INBOX.
// On a flat target the levels stay joined with the source's delimiter.
func (m *mapper) targetName(rel []string, srcDelim rune) (string, error) {
	if m.delim == 0 {
		sep := ""
		if srcDelim != 0 {
			sep = string(srcDelim)
		}
		if name := m.rawInto + strings.Join(rel, sep); name != "INBOX" {
			return m.dst.Prefix + name, nil
		}
		return "INBOX", nil
	}
	comps := slices.Concat(m.into, rel)
	for _, c := range comps {
		switch {
		case c == "":
			return "", errors.New("it has an empty level, which the target cannot hold")
		case strings.ContainsRune(c, m.delim):
			return "", fmt.Errorf("its level %q holds %q, the target's hierarchy delimiter", c, string(m.delim))
		}
	}
	name := strings.Join(comps, string(m.delim))
	if comps[0] == "INBOX" {
		return name, nil
	}
	return m.dst.Prefix + name, nil
}

// refuseCollisions fails every folder that maps to a name an earlier one
// has: --map before roles before names, then in name order.
// taken says which names the mapping gives out, for suggestions.
func (m *mapper) refuseCollisions(out []FolderMapping, rels [][]string, taken func(string) bool) {
	order := make([]int, len(out))
	for i := range order {
		order[i] = i
	}
	rank := map[string]int{RuleMap: 0, RuleSpecialUse: 1, RuleName: 2}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(rank[out[a].Rule], rank[out[b].Rule]) })
	claimed := map[string]string{}
	for _, i := range order {
		fm := &out[i]
		if fm.Err != nil {
			continue
		}
		key := nameKey(fm.Target)
		if prev, ok := claimed[key]; ok {
			fm.Err = fmt.Errorf("%w: it maps to %q, as folder %q does; restore it with --map %s",
				ErrFolderName, fm.Target, prev, shellQuote(MapRule{fm.Source, m.suggest(rels[i], taken, false)}.String()))
			fm.Target = ""
			continue
		}
		claimed[key] = fm.Source
	}
}

// suggest proposes a --map target for relative levels the target cannot
// hold: each level with the delimiter and "/" replaced (strict: every
// character but letters, digits, space, "-" and "_"), empty levels left
// out, and a number added while the name is in use (taken says by
// another folder; or on the target).
func (m *mapper) suggest(rel []string, taken func(string) bool, strict bool) string {
	sub := '_'
	if m.delim == '_' {
		sub = '-'
	}
	var levels []string
	for _, c := range rel {
		c = strings.Map(func(r rune) rune {
			if r == '/' || r == m.delim || strict && !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune(" -_", r) {
				return sub
			}
			return r
		}, c)
		if c != "" {
			levels = append(levels, c)
		}
	}
	if len(levels) == 0 {
		levels = []string{"Restored"}
	}
	base := levels[len(levels)-1]
	for n := 2; ; n++ {
		name, err := m.targetName(levels, '/')
		if err != nil || !m.inUse(name, taken) {
			break
		}
		levels[len(levels)-1] = fmt.Sprintf("%s (%d)", base, n)
	}
	return strings.Join(levels, "/")
}

func (m *mapper) inUse(name string, taken func(string) bool) bool {
	if taken != nil && taken(name) {
		return true
	}
	return slices.ContainsFunc(m.existing, func(t targetFolder) bool { return nameKey(t.name) == nameKey(name) })
}

// shellQuote quotes s for a POSIX shell, for suggested command lines.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
