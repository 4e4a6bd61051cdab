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

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/archive"
)

// prepare names every folder on the target and creates the missing ones
// (in a dry run it only counts them). A folder that cannot be named or
// created is marked to fail; the others go on.
func (r *runner) prepare(c *imapclient.Client, folders []archive.ViewFolder) error {
	delim, err := targetDelim(c)
	if err != nil {
		return err
	}
	existing, err := listTarget(c)
	if err != nil {
		return err
	}
	r.nameJobs(folders, newTargetNamer(delim, r.opts.Into))
	byName := slices.Clone(r.jobs)
	slices.SortFunc(byName, func(a, b *job) int { return strings.Compare(a.target, b.target) })
	for _, j := range byName { // parents before their children
		if err := r.ensure(c, j, existing); err != nil {
			return err
		}
	}
	return nil
}

// nameJobs maps each folder to its target name. When two folders map to
// one name (possible only through the delimiter replacement), the second
// is not restored: merging two folders would lose the distinction.
func (r *runner) nameJobs(folders []archive.ViewFolder, namer targetNamer) {
	byTarget := map[string]*job{}
	for _, f := range folders {
		name, changed := namer.name(f.Name, firstRune(f.Delim))
		j := &job{src: f, target: name}
		if changed {
			r.opts.Log.Warn("folder name holds the target's hierarchy delimiter; restored under another name",
				"folder", f.Name, "target", name)
		}
		if prev, ok := byTarget[nameKey(name)]; ok {
			j.skip = fmt.Errorf("maps to %q on the target, as folder %q does: restore it alone, with --folder and --into",
				name, prev.src.Name)
		} else {
			byTarget[nameKey(name)] = j
		}
		r.jobs = append(r.jobs, j)
	}
}

// ensure creates j's target folder unless it exists. The server's refusal
// fails the folder; a lost connection fails the run.
func (r *runner) ensure(c *imapclient.Client, j *job, existing map[string]bool) error {
	if j.skip != nil {
		return nil
	}
	if existing[nameKey(j.target)] {
		j.exists = true
		return nil
	}
	r.created++
	if r.opts.DryRun {
		return nil
	}
	err := c.Create(j.target, nil).Wait()
	var ie *imap.Error
	switch {
	case err == nil, errors.As(err, &ie) && ie.Code == imap.ResponseCodeAlreadyExists:
		j.exists = true
	case errors.As(err, &ie):
		r.created--
		j.skip = fmt.Errorf("create %q: %w", j.target, err)
	default:
		return fmt.Errorf("create %q: %w", j.target, err)
	}
	return nil
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

// listTarget returns the selectable folders of the target, by nameKey.
func listTarget(c *imapclient.Client) (map[string]bool, error) {
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		return nil, fmt.Errorf("list the target's folders: %w", err)
	}
	out := map[string]bool{"INBOX": true}
	for _, l := range list {
		if !slices.Contains(l.Attrs, imap.MailboxAttrNoSelect) && !slices.Contains(l.Attrs, imap.MailboxAttrNonExistent) {
			out[nameKey(l.Mailbox)] = true
		}
	}
	return out, nil
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
