package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mailkeep/mailkeep/agent"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/config"
)

func foldersCommand(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "folders ACCOUNT",
		Short: "List the server's folders with their sizes, and which ones a backup takes",
		Long: `folders lists the account's folders on the server (LIST and STATUS only: it changes
nothing), with their message counts and sizes where the server tells them, and whether
folders.include and folders.exclude select each for the backup. Use it to try patterns
before a first backup.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			log, _, accts, err := g.setup(args)
			if err != nil {
				return err
			}
			a := accts[0]
			list, err := agent.Folders(cmd.Context(), a, log)
			if err != nil {
				return accountError(err)
			}
			if asJSON {
				return json.NewEncoder(g.stdout).Encode(folderRows(a, list))
			}
			return printFolders(g.stdout, a, list)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// folderRow is one folder for --json.
type folderRow struct {
	Name     string   `json:"name"`
	Attrs    []string `json:"attributes,omitempty"`
	Messages *int     `json:"messages,omitempty"`
	Size     *int64   `json:"size,omitempty"`
	Selected bool     `json:"backed_up"`
	Why      string   `json:"why,omitempty"`
}

func folderRows(a *config.Account, list []backup.FolderInfo) []folderRow {
	out := []folderRow{}
	for _, f := range list {
		r := folderRow{Name: f.Name, Attrs: f.Attrs}
		if f.Messages >= 0 {
			r.Messages = &f.Messages
		}
		if f.Size >= 0 {
			r.Size = &f.Size
		}
		r.Selected, r.Why = selected(a, f)
		out = append(out, r)
	}
	return out
}

// selected says whether a backup takes folder f, and why not.
func selected(a *config.Account, f backup.FolderInfo) (bool, string) {
	switch {
	case !f.Selectable:
		return false, "not selectable"
	case a.Protocol == config.ProtocolPOP3:
		return true, ""
	case !a.MatchFolder(f.Name):
		return false, "excluded by folders.include/exclude"
	}
	return true, ""
}

func printFolders(w io.Writer, a *config.Account, list []backup.FolderInfo) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FOLDER\tMESSAGES\tSIZE\tBACKED UP")
	for _, r := range folderRows(a, list) {
		n, size, yes := "-", "-", "yes"
		if r.Messages != nil {
			n = fmt.Sprint(*r.Messages)
		}
		if r.Size != nil {
			size = humanBytes(*r.Size)
		}
		if !r.Selected {
			yes = "no: " + r.Why
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", displayName(r.Name), n, size, yes)
	}
	return tw.Flush()
}

// displayName shows a folder name on a terminal: a name kept as the
// server's raw bytes is shown quoted, its bytes escaped.
func displayName(name string) string {
	if raw, ok := strings.CutPrefix(name, "\xff"); ok {
		return fmt.Sprintf("%q (not valid modified UTF-7)", raw)
	}
	return name
}
