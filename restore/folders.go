package restore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// prepare maps every folder to the target (see mapping.go) and creates
// the missing ones (in a dry run it only counts them). A folder that
// cannot be mapped or created is marked to fail; the others go on.
func (r *runner) prepare(c *imapclient.Client, src source) error {
	tgt, existing, err := readTarget(c)
	if err != nil {
		return err
	}
	r.mapper = &mapper{srcPrefix: src.prefix, dst: tgt, delim: firstRune(tgt.Delim), existing: existing,
		rules: map[string]MapRule{}, rawInto: r.opts.Into}
	r.mapper.into = splitInto(r.opts.Into, r.mapper.delim)
	for _, rule := range r.opts.Map {
		r.mapper.rules[normInbox(rule.From)] = rule
	}
	r.mapping = Mapping{SourcePrefix: src.prefix, SourcePrefixFrom: src.prefixFrom, Target: tgt,
		Folders: r.mapper.mapFolders(src.folders, src.selected)}
	for i := range r.mapping.Folders {
		if fm := &r.mapping.Folders[i]; fm.Selected {
			r.jobs = append(r.jobs, &job{src: src.folders[i], target: fm.Target, skip: fm.Err, fm: fm})
			r.logMapping(fm)
		}
	}
	r.folders = len(r.jobs)
	if r.opts.Labels {
		if err := r.mergeForLabels(c, existing); err != nil {
			return err
		}
	}
	have := map[string]bool{"INBOX": true}
	for _, t := range existing {
		have[nameKey(t.name)] = true
	}
	byName := slices.Clone(r.jobs)
	slices.SortFunc(byName, func(a, b *job) int { return strings.Compare(a.target, b.target) })
	for _, j := range byName { // parents before their children
		if err := r.ensure(c, j, have); err != nil {
			return err
		}
	}
	return nil
}

// logMapping says where a folder goes when that is not its own name (at
// debug level: --dry-run shows the mapping to a person).
func (r *runner) logMapping(fm *FolderMapping) {
	if fm.Err == nil && fm.Target != fm.Source { // a folder that fails is logged when its messages are counted
		r.opts.Log.Debug("folder mapped", "folder", fm.Source, "to", fm.Target, "rule", fm.Rule, "special_use", fm.Role,
			"below", fm.Under)
	}
}

// normInbox spells a leading INBOX level, in any case, INBOX.
func normInbox(name string) string {
	if len(name) >= 5 && isInbox(name[:5]) && (len(name) == 5 || !unicode.IsLetter(rune(name[5])) && !unicode.IsDigit(rune(name[5]))) {
		return "INBOX" + name[5:]
	}
	return name
}

// ensure creates j's target folder unless it exists, with its special use
// where the mapping says so. The server's refusal fails the folder; a lost
// connection fails the run.
func (r *runner) ensure(c *imapclient.Client, j *job, existing map[string]bool) error {
	if j.skip != nil {
		return nil
	}
	if existing[nameKey(j.target)] {
		j.exists = true
		j.fm.CreateUse = ""
		return nil
	}
	j.fm.Create = true
	r.created++
	if r.opts.DryRun {
		return nil
	}
	err := r.create(c, j)
	var ie *imap.Error
	switch {
	case err == nil, errors.As(err, &ie) && ie.Code == imap.ResponseCodeAlreadyExists:
		j.exists = true
	case errors.As(err, &ie):
		r.created--
		j.fm.Create = false
		j.skip = fmt.Errorf("create %q: %w; if the target refuses the name, restore the folder under another with --map %s",
			j.target, err, r.mapper.suggestFor(j.src.Name))
	default:
		return fmt.Errorf("create %q: %w", j.target, err)
	}
	return nil
}

// create sends CREATE, with USE (role) where the mapping asks for it. A
// server that refuses the role (USEATTR, or any NO) gets a plain CREATE.
func (r *runner) create(c *imapclient.Client, j *job) error {
	if use := j.fm.CreateUse; use != "" {
		err := c.Create(j.target, &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{imap.MailboxAttr(use)}}).Wait()
		var ie *imap.Error
		if err == nil || !errors.As(err, &ie) || ie.Code == imap.ResponseCodeAlreadyExists {
			return err
		}
		r.opts.Log.Warn("the target refused to create the folder with its special use; creating it without",
			"folder", j.target, "use", use, "err", err)
		j.fm.CreateUse = ""
	}
	return c.Create(j.target, nil).Wait()
}

// targetDelim asks the server for its hierarchy delimiter (LIST "" "");
// 0 means a flat namespace.
func targetDelim(c *imapclient.Client) (rune, error) {
	list, err := c.List("", "", nil).Collect()
	if err != nil {
		return 0, fmt.Errorf("list the target's delimiter: %w", err)
	}
	if len(list) == 0 {
		return 0, nil
	}
	return list[0].Delim, nil
}

// readTarget learns what the mapping needs of the target: its delimiter,
// its personal prefix (NAMESPACE, asked while LIST runs; else inferred
// from the folder names), and its selectable folders with their
// special-use attributes (RETURN (SPECIAL-USE) where the server has
// SPECIAL-USE and LIST-EXTENDED, else what LIST gives).
func readTarget(c *imapclient.Client) (Target, []targetFolder, error) {
	caps := c.Caps()
	var nsCmd *imapclient.NamespaceCommand
	if caps.Has(imap.CapNamespace) {
		nsCmd = c.Namespace()
	}
	delim, err := targetDelim(c)
	if err != nil {
		return Target{}, nil, err
	}
	t := Target{SpecialUse: "LIST", CreateSpecialUse: caps.Has(imap.CapCreateSpecialUse)}
	if delim != 0 {
		t.Delim = string(delim)
	}
	lo := &imap.ListOptions{ReturnSpecialUse: caps.Has(imap.CapSpecialUse) && caps.Has(imap.CapListExtended)}
	if lo.ReturnSpecialUse {
		t.SpecialUse = "RETURN (SPECIAL-USE)"
	}
	folders, names, delims, err := listTarget(c, lo)
	if err != nil {
		return Target{}, nil, err
	}
	if nsCmd != nil {
		if ns, err := nsCmd.Wait(); err == nil && len(ns.Personal) > 0 {
			t.Prefix, t.PrefixFrom = ns.Personal[0].Prefix, "NAMESPACE"
		}
	}
	if t.PrefixFrom == "" {
		t.Prefix, t.PrefixFrom = inferPrefix(names, delims), "LIST"
	}
	return t, folders, nil
}

// listTarget lists the target's folders: the selectable ones with their
// attributes, and the names and delimiters of all.
func listTarget(c *imapclient.Client, lo *imap.ListOptions) ([]targetFolder, []string, []rune, error) {
	list, err := c.List("", "*", lo).Collect()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("list the target's folders: %w", err)
	}
	var folders []targetFolder
	names, delims := make([]string, len(list)), make([]rune, len(list))
	for i, l := range list {
		names[i], delims[i] = l.Mailbox, l.Delim
		if slices.Contains(l.Attrs, imap.MailboxAttrNoSelect) || slices.Contains(l.Attrs, imap.MailboxAttrNonExistent) {
			continue
		}
		var use []string
		for _, a := range l.Attrs {
			use = append(use, string(a))
		}
		folders = append(folders, targetFolder{name: l.Mailbox, use: use})
	}
	return folders, names, delims, nil
}

// settleInterval is how long the target must stay unchanged before a
// restore scans it (at the start, and when it resumes a folder after a
// lost connection).
var settleInterval = time.Second

// maxSettleWaits bounds how often a restore waits for a changing target
// before it goes on regardless.
const maxSettleWaits = 30

// awaitQuiet waits until the given target folders stop changing. A
// restore that was killed, or lost its connection, may have left APPENDs
// that the server had received whole and is still storing. A scan before
// they are stored would miss them, and they would be sent twice. So a
// restore waits until the target has been quiet for settleInterval.
// Unless evenIfEmpty, folders that are all empty are not waited for:
// nothing was stored in them yet, so no earlier restore was storing there,
// or it had only just begun.
func awaitQuiet(ctx context.Context, c *imapclient.Client, names []string, evenIfEmpty bool, log *slog.Logger) error {
	if len(names) == 0 {
		return nil
	}
	last, err := folderStates(c, names)
	empty := !slices.ContainsFunc(slices.Collect(maps.Values(last)), func(s [2]uint32) bool { return s[0] > 0 })
	if err != nil || empty && !evenIfEmpty {
		return err
	}
	for range maxSettleWaits {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(settleInterval):
		}
		now, err := folderStates(c, names)
		if err != nil || maps.Equal(now, last) {
			return err
		}
		log.Info("the target is still changing; waiting before scanning it", "folders", len(names))
		last = now
	}
	return nil
}

// folderStates returns MESSAGES and UIDNEXT of each folder, with the
// STATUS commands pipelined.
func folderStates(c *imapclient.Client, names []string) (map[string][2]uint32, error) {
	cmds := make([]*imapclient.StatusCommand, len(names))
	for i, name := range names {
		cmds[i] = c.Status(name, &imap.StatusOptions{NumMessages: true, UIDNext: true})
	}
	out := map[string][2]uint32{}
	var errs []error
	for i, cmd := range cmds {
		st, err := cmd.Wait()
		if err != nil {
			errs = append(errs, fmt.Errorf("status %q: %w", names[i], err))
			continue
		}
		out[names[i]] = [2]uint32{*st.NumMessages, uint32(st.UIDNext)}
	}
	return out, errors.Join(errs...)
}

func firstRune(s string) rune {
	for _, r := range s {
		return r
	}
	return 0
}
