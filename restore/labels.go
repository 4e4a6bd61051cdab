package restore

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/archive"
)

// Restoring with labels (Options.Labels). Gmail shows each label as a
// folder, so an archive of a Gmail account holds one message in every
// folder (label) it carries; restored folder by folder, a message with
// three labels would become three messages. With Labels, into a target
// with X-GM-EXT-1, the folders are restored together instead: each
// message once, into the target's \All folder ("[Gmail]/All Mail"), then
// given its labels with UID STORE +X-GM-LABELS. The messages of the
// folders are one message when they share an X-GM-MSGID, or, for an
// archive of another server, the same content and INTERNALDATE (never two
// of one folder). A message's labels are those the backup recorded
// (X-GM-LABELS) and those of the folders that held it: INBOX gives
// \Inbox, the \Sent, \Drafts and \Flagged folders \Sent, \Draft and
// \Starred, the \All folder and Gmail's own "[Gmail]/…" folders none, and
// any other folder its name on the target (after --map and --into).
// Folders of the \Trash and \Junk roles are restored as folders, as
// without Labels: their messages are not in All Mail.
//
// Labels only add. A message the target holds already (found as any
// restore finds it) gets the labels too, so a run interrupted between the
// APPEND and the STORE is completed by the next.

// capGmail is Gmail's IMAP extension, which X-GM-LABELS needs.
const capGmail imap.Cap = "X-GM-EXT-1"

// ErrLabels reports a restore with Labels into a target without
// X-GM-EXT-1, or without an \All folder to put the messages in.
var ErrLabels = errors.New("restoring with labels needs a Gmail target")

// labelJob is the folders a restore with labels merges, as one job.
type labelJob struct {
	sources []*job
	label   map[int64]string // source folder id → the label it gives ("" none)
}

// mergeForLabels replaces the jobs of the folders restored as labels by
// one job into the target's \All folder.
func (r *runner) mergeForLabels(c *imapclient.Client, existing []targetFolder) error {
	if !c.Caps().Has(capGmail) {
		return fmt.Errorf("%w: the target has no X-GM-EXT-1", ErrLabels)
	}
	all := ""
	for _, t := range existing {
		if slices.Contains(t.use, string(imap.MailboxAttrAll)) {
			all = t.name
		}
	}
	if all == "" {
		return fmt.Errorf("%w: the target has no \\All folder", ErrLabels)
	}
	lj := &labelJob{label: map[int64]string{}}
	merged := &job{target: all, exists: true, labels: lj,
		fm: &FolderMapping{Source: "(labels)", Target: all, Rule: RuleLabels, Selected: true}}
	merged.src.Name = "(labels)"
	var keep []*job
	for _, j := range r.jobs {
		if j.skip != nil || j.fm.Role == string(imap.MailboxAttrTrash) || j.fm.Role == string(imap.MailboxAttrJunk) {
			keep = append(keep, j)
			continue
		}
		lj.sources = append(lj.sources, j)
		lj.label[j.src.ID] = folderLabel(j)
		merged.src.Count += j.src.Count
		merged.src.Bytes += j.src.Bytes
	}
	if len(lj.sources) > 0 {
		keep = append(keep, merged)
	}
	r.jobs = keep
	return nil
}

// RuleLabels marks the job of the folders restored as labels.
const RuleLabels = "labels"

// folderLabel is the label a folder gives its messages; "" for none.
func folderLabel(j *job) string {
	switch {
	case normInbox(j.src.Name) == "INBOX":
		return `\Inbox`
	case j.fm.Role == string(imap.MailboxAttrSent):
		return `\Sent`
	case j.fm.Role == string(imap.MailboxAttrDrafts):
		return `\Draft`
	case j.fm.Role == string(imap.MailboxAttrFlagged):
		return `\Starred`
	case j.fm.Role == string(imap.MailboxAttrAll), strings.HasPrefix(j.target, "[Gmail]"),
		strings.HasPrefix(j.target, "[Google Mail]"):
		return ""
	}
	return archive.EncodeLabel(j.target)
}

// openLabelFolders opens the Maildirs of the merged folders.
func (fr *folderRun) openLabelFolders() error {
	fr.folders = map[int64]*archive.Folder{}
	for _, j := range fr.job.labels.sources {
		f, err := fr.r.snap.Folder(j.src.FolderState)
		if err != nil {
			return fmt.Errorf("folder %q: %w", j.src.Name, err)
		}
		fr.folders[j.src.ID] = f
	}
	return nil
}

// fillLabels writes the merged folders' rows and Gmail data into the
// match database, a page of rows at a time, and makes one message of the
// rows that are one (see labelsdb.go): the folder's list.
func (fr *folderRun) fillLabels() error {
	ctx, lj := fr.ctx, fr.job.labels
	err := fr.mdb.addLabelRows(ctx, func(add func(labelRow) error) error {
		for f, j := range lj.sources {
			if err := fr.r.snap.EachMessage(ctx, j.src.ID, fr.r.view(), func(m archive.Message) error {
				if fr.r.only != nil && !fr.r.only[m.ID] {
					return nil
				}
				return add(labelRow{f: f, m: m, label: lj.label[j.src.ID]})
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = fr.mdb.addGmail(ctx, func(add func(int64, archive.Gmail) error) error {
			for _, j := range lj.sources {
				if err := fr.r.snap.EachGmail(ctx, j.src.ID, add); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil {
		return err
	}
	n, err := fr.mdb.mergeLabels(ctx)
	if err != nil {
		return err
	}
	fr.mu.Lock()
	fr.settled, fr.uids, fr.filled = make([]bool, n), make([]imap.UID, n), true
	fr.mu.Unlock()
	return nil
}

func addLabels(have []string, labels ...string) []string {
	for _, l := range labels {
		if !slices.Contains(have, l) {
			have = append(have, l)
		}
	}
	return have
}

// labelChunk is how many messages one STORE of labels names.
const labelChunk = 500

// applyLabels gives the messages of a restore with labels that the
// target holds (appended, or found present) their labels: one UID STORE
// +X-GM-LABELS per set of labels (and per labelChunk messages), in the
// target's \All folder, selected read-write. A refused STORE is recorded
// as the run's failure; the next run sets the labels again.
func (fr *folderRun) applyLabels() error {
	sets := map[string][]imap.UID{}
	labels := map[string][]string{}
	err := fr.mdb.eachLabels(fr.ctx, func(i int, l []string) error {
		if uid := fr.uidOf(i); len(l) > 0 && uid != 0 {
			k := strings.Join(l, "\x00")
			sets[k], labels[k] = append(sets[k], uid), l
		}
		return nil
	})
	if err != nil {
		return err
	}
	if n := fr.noUID.Load(); n > 0 {
		fr.log.Warn("labels not set on messages whose UID the target did not say (no APPENDUID); the next run sets them",
			"messages", n)
	}
	if len(sets) == 0 {
		return nil
	}
	if _, err := fr.c.Select(fr.job.target, nil).Wait(); err != nil {
		return fmt.Errorf("select %q: %w", fr.job.target, err)
	}
	for _, k := range slices.Sorted(maps.Keys(sets)) {
		for chunk := range slices.Chunk(sets[k], labelChunk) {
			err := fr.c.StoreGmailLabels(imap.UIDSetNum(chunk...), imap.StoreFlagsAdd, labels[k], true).Close()
			var ie *imap.Error
			if errors.As(err, &ie) {
				fr.r.tally.fail(0, fmt.Errorf("labels %q on %d messages: %w", labels[k], len(chunk), err))
				continue
			}
			if err != nil {
				return fmt.Errorf("store labels: %w", err)
			}
			fr.r.tally.add(func(r *Result) { r.Labelled += len(chunk) })
		}
	}
	return deselect(fr.c)
}

func (fr *folderRun) uidOf(i int) imap.UID {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	return fr.uids[i]
}

// setUID records the target UID of message i (appended, or found).
func (fr *folderRun) setUID(i int, uid imap.UID) {
	if fr.uids == nil {
		return
	}
	fr.mu.Lock()
	defer fr.mu.Unlock()
	fr.uids[i] = uid
}
