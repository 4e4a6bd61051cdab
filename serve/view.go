package serve

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailkeep/mailkeep/archive"
)

// A view is a mailbox's messages as a session sees them: read from one
// committed state of the catalog when the mailbox is selected, and frozen
// until the next SELECT. A backup committing meanwhile changes nothing a
// session was told.
//
// The UID rule (doc/design.md, "Serving the archive"):
//
//   - A folder in the latest state whose messages all carry one
//     UIDVALIDITY: the server's own UIDs and UIDVALIDITY, as archived, so
//     a message has the UID it had on the server. UIDNEXT is the server's
//     as last synced, or above the highest UID.
//   - Everything else (a POP3 inbox, a view as of a run, the Gone folder,
//     a folder whose messages carry more than one UIDVALIDITY): the
//     message's catalog row id is its UID. Rows are numbered in the order
//     messages arrive and keep their numbers for the life of the catalog,
//     so these UIDs ascend in arrival order and never change.
//
// A derived UIDVALIDITY is B + 2·E for the latest state and B + 2·R + 1 as
// of run R, where B is the start of the catalog's first run (Unix seconds;
// a rebuilt catalog starts later) and E the newest run after which the
// view may have gained a message with a lower UID: for Gone the newest run
// that marked a message gone; for a folder the newest run that brought
// back a message the server had deleted (a row whose last_run is not its
// first_run). For a given E a view only loses messages, so a UIDVALIDITY
// never stands for two sets of UIDs that contradict each other; and as-of
// views (odd) never share one with latest views (even).

// message is what a view keeps of a catalog row.
type message struct {
	uid    imap.UID
	id     int64
	folder int64
	size   int64
	date   time.Time
	flags  []imap.Flag // shared between messages with the same flags
	key    string
	file   string
	sum    [32]byte
}

// row is the catalog row as Folder.OpenMessage needs it.
func (m *message) row() archive.Message {
	return archive.Message{ID: m.id, FolderID: m.folder, Key: m.key, File: m.file, SHA256: m.sum, Size: m.size}
}

func (m *message) has(flag imap.Flag) bool {
	return slices.ContainsFunc(m.flags, func(f imap.Flag) bool { return strings.EqualFold(string(f), string(flag)) })
}

// view is a loaded mailbox.
type view struct {
	box         *mailbox
	msgs        []message // in UID order
	uidValidity uint32
	uidNext     imap.UID
	keywords    []imap.Flag // in use, sorted
}

// viewScan collects a view's messages and what the UID rule needs.
type viewScan struct {
	msgs      []message
	flags     map[string][]imap.Flag
	zones     map[int]*time.Location
	serverUID bool   // every message has one UIDVALIDITY and a UID
	validity  uint32 // that UIDVALIDITY
	maxGone   int64
	maxBack   int64 // newest run that brought a message back
	overflow  bool  // a row id that does not fit a UID
}

// loadView reads a mailbox of the account as of run (0: latest). base is
// the start of the catalog's first run.
func loadView(ctx context.Context, snap *archive.Snapshot, b *mailbox, run int64, base uint32) (*view, error) {
	sc := &viewScan{flags: map[string][]imap.Flag{}, zones: map[int]*time.Location{}, serverUID: true}
	v := &view{box: b}
	var f archive.ViewFolder
	var err error
	if b.gone {
		err = snap.Scan(ctx, archive.View{Run: run, Gone: archive.GoneOnly}, sc.add)
	} else {
		var ok bool
		f, ok, err = snap.ScanFolder(ctx, b.folder.ID, archive.View{Run: run}, sc.add)
		if err == nil && !ok {
			return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNonExistent,
				Text: "The folder is no longer in the archive's latest state"}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", b.name, err)
	}
	if sc.overflow {
		return nil, errors.New("catalog row ids no longer fit IMAP UIDs")
	}
	v.msgs = sc.msgs
	if run == 0 && !b.gone && sc.serverUIDs(f) {
		v.serverUIDs(f, sc)
	} else {
		v.derivedUIDs(sc, run, base)
	}
	slices.SortFunc(v.msgs, func(a, b message) int { return int(a.uid) - int(b.uid) })
	v.keywords = keywords(sc.flags)
	return v, nil
}

func (sc *viewScan) add(m archive.Message) error {
	if len(sc.msgs) == 0 {
		sc.validity = m.UIDValidity
	}
	if m.UIDValidity != sc.validity || m.UIDValidity == 0 || m.UID == 0 {
		sc.serverUID = false
	}
	sc.maxGone = max(sc.maxGone, m.GoneRun)
	if m.LastRun != m.FirstRun {
		sc.maxBack = max(sc.maxBack, m.LastRun)
	}
	if m.ID > math.MaxUint32 {
		sc.overflow = true
	}
	sc.msgs = append(sc.msgs, message{uid: imap.UID(m.UID), id: m.ID, folder: m.FolderID, size: m.Size,
		date: sc.date(m.InternalDate), flags: sc.intern(m.Flags), key: m.Key, file: m.File, sum: m.SHA256})
	return nil
}

// serverUIDs reports whether the server's UIDs can be served: one
// UIDVALIDITY, distinct UIDs (in arrival order they may not ascend).
func (sc *viewScan) serverUIDs(f archive.ViewFolder) bool {
	if len(sc.msgs) == 0 {
		sc.validity = f.UIDValidity
		return f.UIDValidity != 0
	}
	if !sc.serverUID {
		return false
	}
	seen := make(map[imap.UID]bool, len(sc.msgs))
	for _, m := range sc.msgs {
		if seen[m.uid] {
			return false
		}
		seen[m.uid] = true
	}
	return true
}

func (v *view) serverUIDs(f archive.ViewFolder, sc *viewScan) {
	v.uidValidity = sc.validity
	v.uidNext = 1
	for _, m := range v.msgs {
		v.uidNext = max(v.uidNext, m.uid+1)
	}
	if f.UIDValidity == sc.validity {
		v.uidNext = max(v.uidNext, imap.UID(f.UIDNext))
	}
}

func (v *view) derivedUIDs(sc *viewScan, run int64, base uint32) {
	epoch := 2 * sc.maxBack
	switch {
	case run != 0:
		epoch = 2*run + 1
	case v.box.gone:
		epoch = 2 * sc.maxGone
	}
	v.uidValidity = max(base+uint32(epoch), 1)
	v.uidNext = 1
	for i := range v.msgs {
		v.msgs[i].uid = imap.UID(v.msgs[i].id)
		v.uidNext = max(v.uidNext, v.msgs[i].uid+1)
	}
}

// intern returns one shared slice per distinct set of flags.
func (sc *viewScan) intern(flags []string) []imap.Flag {
	key := strings.Join(flags, " ")
	if f, ok := sc.flags[key]; ok {
		return f
	}
	var f []imap.Flag
	for _, s := range flags {
		if !strings.EqualFold(s, `\Recent`) {
			f = append(f, imap.Flag(s))
		}
	}
	sc.flags[key] = f
	return f
}

// date keeps one location per zone offset instead of one per row.
func (sc *viewScan) date(t time.Time) time.Time {
	_, off := t.Zone()
	loc, ok := sc.zones[off]
	if !ok {
		loc = t.Location()
		sc.zones[off] = loc
	}
	return t.In(loc)
}

// keywords lists the keywords in use, sorted.
func keywords(sets map[string][]imap.Flag) []imap.Flag {
	var kws []imap.Flag
	for _, flags := range sets {
		for _, f := range flags {
			if !strings.HasPrefix(string(f), `\`) && !slices.Contains(kws, f) {
				kws = append(kws, f)
			}
		}
	}
	slices.Sort(kws)
	return kws
}

// systemFlags are the flags every mailbox announces.
var systemFlags = []imap.Flag{imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagSeen, imap.FlagDraft}

// selectData is the view as SELECT reports it. Nothing is permanent: the
// archive cannot be changed through IMAP.
func (v *view) selectData() *imap.SelectData {
	d := &imap.SelectData{
		Flags:          append(slices.Clone(systemFlags), v.keywords...),
		PermanentFlags: []imap.Flag{},
		NumMessages:    uint32(len(v.msgs)),
		UIDNext:        v.uidNext,
		UIDValidity:    v.uidValidity,
	}
	for i := range v.msgs {
		if !v.msgs[i].has(imap.FlagSeen) {
			d.FirstUnseenSeqNum = uint32(i + 1)
			break
		}
	}
	return d
}

// status answers STATUS for the view.
func (v *view) status(name string, o *imap.StatusOptions) (*imap.StatusData, error) {
	if o.DeletedStorage {
		return nil, &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Unknown STATUS data item"}
	}
	d := &imap.StatusData{Mailbox: name, UIDNext: v.uidNext, UIDValidity: v.uidValidity}
	var unseen, deleted, recent uint32
	var size int64
	for i := range v.msgs {
		m := &v.msgs[i]
		if !m.has(imap.FlagSeen) {
			unseen++
		}
		if m.has(imap.FlagDeleted) {
			deleted++
		}
		size += m.size
	}
	n := uint32(len(v.msgs))
	d.NumMessages, d.NumUnseen, d.NumDeleted, d.Size, d.NumRecent = &n, &unseen, &deleted, &size, &recent
	return d, nil
}
