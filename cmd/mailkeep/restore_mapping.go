package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/mailkeep/mailkeep/restore"
)

// parseMaps parses the --map flags.
func parseMaps(flags []string) ([]restore.MapRule, error) {
	var out []restore.MapRule
	for _, f := range flags {
		r, err := restore.ParseMapRule(f)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// printMapping writes where each restored folder goes, for --dry-run:
//
//	folders: source prefix "INBOX." (NAMESPACE at backup) → target prefix "" (NAMESPACE), delimiter "/"
//	  INBOX.Sent    → Sent Items    \Sent: the target's \Sent folder
//	  INBOX.a/b     ✗ cannot be restored under its name: …
func printMapping(w io.Writer, m restore.Mapping) {
	if len(m.Folders) == 0 {
		return
	}
	fmt.Fprintf(w, "folders: source prefix %q (%s) → target prefix %q (%s), delimiter %q\n",
		m.SourcePrefix, prefixFrom(m.SourcePrefixFrom, true), m.Target.Prefix, prefixFrom(m.Target.PrefixFrom, false),
		m.Target.Delim)
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, f := range m.Folders {
		if !f.Selected {
			continue
		}
		if f.Err != nil {
			fmt.Fprintf(tw, "  %s\t✗ %v\n", f.Source, f.Err)
			continue
		}
		fmt.Fprintf(tw, "  %s\t→ %s\t%s\n", f.Source, f.Target, why(f))
	}
	tw.Flush()
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		fmt.Fprintln(w, strings.TrimRight(line, " ")) // the last column may be empty
	}
}

func prefixFrom(from string, source bool) string {
	switch {
	case from == "NAMESPACE" && source:
		return "NAMESPACE at backup"
	case from == "NAMESPACE":
		return "NAMESPACE"
	case source:
		return "guessed from the folder names"
	}
	return "guessed from LIST"
}

// why says how a folder's target name was decided, and what happens to it.
func why(f restore.FolderMapping) string {
	var parts []string
	switch {
	case f.Under != "":
		parts = append(parts, "below "+f.Under)
	case f.Rule == restore.RuleMap:
		parts = append(parts, "--map")
	case f.Rule == restore.RuleSpecialUse && f.RoleByName:
		parts = append(parts, f.Role+" (by its name)")
	case f.Rule == restore.RuleSpecialUse:
		parts = append(parts, f.Role)
	}
	switch {
	case f.Create && f.CreateUse != "":
		parts = append(parts, "to create as "+f.CreateUse)
	case f.Create:
		parts = append(parts, "to create")
	}
	return strings.Join(parts, "; ")
}

// mappingReport is a restore's folder mapping for --json.
type mappingReport struct {
	SourcePrefix     string          `json:"source_prefix"`
	SourcePrefixFrom string          `json:"source_prefix_from"`
	Target           targetReport    `json:"target"`
	Folders          []folderMapJSON `json:"folders"`
}

type targetReport struct {
	Delimiter        string `json:"delimiter"`
	Prefix           string `json:"prefix"`
	PrefixFrom       string `json:"prefix_from"`
	SpecialUse       string `json:"special_use_from"`
	CreateSpecialUse bool   `json:"create_special_use"`
}

type folderMapJSON struct {
	Source     string `json:"source"`
	Target     string `json:"target,omitempty"`
	Rule       string `json:"rule"`
	SpecialUse string `json:"special_use,omitempty"`
	ByName     bool   `json:"special_use_by_name,omitempty"`
	Under      string `json:"under,omitempty"`
	Create     bool   `json:"create"`
	CreateUse  string `json:"create_use,omitempty"`
	Error      string `json:"error,omitempty"`
}

func mappingJSON(m restore.Mapping) *mappingReport {
	if len(m.Folders) == 0 {
		return nil
	}
	rep := &mappingReport{SourcePrefix: m.SourcePrefix, SourcePrefixFrom: m.SourcePrefixFrom,
		Target: targetReport{Delimiter: m.Target.Delim, Prefix: m.Target.Prefix, PrefixFrom: m.Target.PrefixFrom,
			SpecialUse: m.Target.SpecialUse, CreateSpecialUse: m.Target.CreateSpecialUse},
		Folders: []folderMapJSON{}}
	for _, f := range m.Folders {
		if !f.Selected {
			continue
		}
		j := folderMapJSON{Source: f.Source, Target: f.Target, Rule: f.Rule, SpecialUse: f.Role, ByName: f.RoleByName,
			Under: f.Under, Create: f.Create, CreateUse: f.CreateUse}
		if f.Err != nil {
			j.Error = f.Err.Error()
		}
		rep.Folders = append(rep.Folders, j)
	}
	return rep
}
