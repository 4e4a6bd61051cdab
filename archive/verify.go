package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Problem kinds found by Verify.
const (
	ProblemMissingFile = "missing-file" // a catalog row whose file is gone
	ProblemOrphanFile  = "orphan-file"  // a message file without a catalog row
	ProblemBadName     = "bad-name"     // S= or W= disagree with the content: Dovecot would fail on it
	ProblemCorrupt     = "corrupt"      // the file does not decode, or its size or hash differ from the catalog
	ProblemStaleTemp   = "stale-temp"   // a leftover temp file of an interrupted run
	ProblemStrayFile   = "stray-file"   // a file in cur/ or new/ that is not a mailkeep message file
	ProblemCatalog     = "catalog"      // the catalog disagrees with itself
	ProblemRefetch     = "refetch"      // a message set aside by a repair that no backup has fetched again yet
	ProblemPruned      = "pruned"       // a file or folder that an interrupted prune took out of the catalog but left on disk
)

// Problem is one finding of Verify.
type Problem struct {
	Kind     string
	Folder   string
	Key      string
	Detail   string
	Repaired bool
}

func (p Problem) String() string {
	s := fmt.Sprintf("%s: folder %q", p.Kind, p.Folder)
	if p.Key != "" {
		s += " message " + p.Key
	}
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	if p.Repaired {
		s += " (repaired)"
	}
	return s
}

// VerifyOptions: Repair fixes what can be fixed; Checked, if set, is
// called after each message file is checked.
type VerifyOptions struct {
	Repair  bool
	Checked func(bytes int64)
}

// Report is what Verify found.
type Report struct {
	Folders, Messages int
	Bytes             int64 // read and checked: each content once
	// Shared counts the messages whose file is a hard link to a content
	// checked already under another name: it was not read again.
	Shared   int
	Problems []Problem
	// HashesOnly: the archive is encrypted and no identity was given, so
	// each file was checked against the SHA-256 it was stored with and its
	// name against its row, without decrypting it.
	HashesOnly bool
}

// Unrepaired counts problems that are still there.
func (r Report) Unrepaired() int {
	n := 0
	for _, p := range r.Problems {
		if !p.Repaired {
			n++
		}
	}
	return n
}

// Verify decodes every message file and checks it against the catalog and
// its own name, and checks the catalog and the tree for leftovers. In an
// encrypted archive each file is first checked against the SHA-256 it was
// stored with; it is decoded only when the writer has identities (else
// Report.HashesOnly), and an identity that cannot decrypt a file that is
// as stored stops Verify with an error wrapping ErrWrongIdentity (nothing
// is repaired on its account).
// Repairs: stale temp files are removed; orphan files are adopted into the
// catalog; files with wrong S=/W= are renamed; corrupt files of messages
// the server still has are moved to <account>/damaged/, and they and
// missing files of such messages are set aside: their rows are removed,
// the message is recorded to be fetched again and the folder's sync state
// cleared, so that the next backup opens the folder and fetches them.
// Until it has, Verify reports each as a refetch problem: the archive is
// not complete. Missing or corrupt files of messages the server no longer
// has cannot be repaired. Files and folders that an interrupted prune
// took out of the catalog but left on disk are reported as pruned, never
// as orphans, and Repair deletes them (ResumePrune).
func (a *Writer) Verify(ctx context.Context, opts VerifyOptions) (Report, error) {
	rep := Report{HashesOnly: a.codec.encrypted && len(a.codec.identities) == 0}
	if err := a.Catalog.checkIntegrity(ctx, &rep); err != nil {
		return rep, err
	}
	pruned, err := a.verifyPruned(ctx, opts, &rep)
	if err != nil {
		return rep, err
	}
	folders, err := a.Catalog.Folders(ctx)
	if err != nil {
		return rep, err
	}
	seen := map[inode]measured{}
	for _, fs := range folders {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		v := &verifier{a: a, opts: opts, rep: &rep, state: fs, pruned: pruned[fs.ID], seen: seen}
		if err := v.folder(ctx); err != nil {
			return rep, fmt.Errorf("verify folder %q: %w", fs.Name, err)
		}
	}
	rep.Folders = len(folders)
	return rep, nil
}

func (c *Catalog) checkIntegrity(ctx context.Context, rep *Report) error {
	res, err := c.integrity(ctx)
	if err != nil {
		return err
	}
	if res != "" {
		rep.Problems = append(rep.Problems, Problem{Kind: ProblemCatalog, Detail: res})
	}
	var n int
	err = c.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM messages m LEFT JOIN folders f ON m.folder_id = f.id
		WHERE f.id IS NULL`).Scan(&n)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	if n > 0 {
		rep.Problems = append(rep.Problems, Problem{Kind: ProblemCatalog, Detail: fmt.Sprintf("%d messages belong to no folder", n)})
	}
	return nil
}

type verifier struct {
	a        *Writer
	opts     VerifyOptions
	rep      *Report
	state    FolderState
	f        *Folder
	setAside map[string]bool // keys this pass set aside to be fetched again
	pruned   map[string]bool // keys of files a pending prune lists: reported already, not orphans
	seen     map[inode]measured
}

// measured is what reading one content gave, kept by inode (nlink
// cleared) so that its other names are not read again, until the last of
// them has been: the map holds the contents whose names are still to
// come, not every linked content of the archive.
type measured struct {
	key         string // the message it was read for
	sum         [32]byte
	size, vsize int64
	err         error
	left        uint64 // names of the inode not measured yet: at 0 it is dropped
}

// verifyPruned reports what pending prune entries left on disk, or with
// Repair removes it; it returns the keys still left, by folder.
func (a *Writer) verifyPruned(ctx context.Context, opts VerifyOptions, rep *Report) (map[int64]map[string]bool, error) {
	pending, err := a.Catalog.pendingPruned(ctx)
	if err != nil || len(pending) == 0 {
		return nil, err
	}
	report := func(l leftover, repaired bool) {
		p := Problem{Kind: ProblemPruned, Folder: l.folder, Key: l.key, Repaired: repaired,
			Detail: "left on disk by an interrupted prune; the next prune, backup or verify --repair deletes it"}
		if l.key == "" {
			p.Detail = "folder " + p.Detail
		}
		rep.Problems = append(rep.Problems, p)
	}
	if opts.Repair {
		if err := a.Catalog.interruptPrunes(ctx); err != nil {
			return nil, err
		}
		_, err := a.removeLeftovers(ctx, pending, func(l leftover) { report(l, true) })
		return nil, err
	}
	lo, err := leftovers(a.Dir, pending)
	if err != nil {
		return nil, err
	}
	keys := map[int64]map[string]bool{}
	for _, l := range lo {
		report(l, false)
		if keys[l.folderID] == nil {
			keys[l.folderID] = map[string]bool{}
		}
		keys[l.folderID][l.key] = true
	}
	return keys, nil
}

func (v *verifier) report(p Problem) {
	p.Folder = v.state.Name
	v.rep.Problems = append(v.rep.Problems, p)
}

// folder checks one folder in two passes that hold a page or a chunk at
// a time: the catalog's rows against the files they name, then the
// folder's listing for files no row has checked (orphans, strays, and the
// files of rows whose recorded name was not there).
func (v *verifier) folder(ctx context.Context) error {
	f, err := openFolder(v.a.Dir, v.state, v.a.codec)
	if err != nil {
		v.report(Problem{Kind: ProblemCatalog, Detail: err.Error()})
		return nil
	}
	v.f = f
	if err := v.temps(); err != nil {
		return err
	}
	later := map[string]int64{}
	if err := v.rows(ctx, later); err != nil {
		return err
	}
	if err := v.listing(ctx, later); err != nil {
		return err
	}
	if err := v.unfound(ctx, later); err != nil {
		return err
	}
	return v.refetches(ctx)
}

// verifyPage is how many catalog rows verify holds at a time: a folder's
// rows are read a page at a time, so that memory does not grow with them.
const verifyPage = 1000

// refetches reports the messages a repair set aside that no backup has
// fetched again yet (those set aside by this pass are reported already).
func (v *verifier) refetches(ctx context.Context) error {
	list, err := v.a.Catalog.Refetches(ctx, v.state.ID)
	for _, r := range list {
		if v.setAside[r.Key] {
			continue
		}
		v.report(Problem{Kind: ProblemRefetch, Key: r.Key, Detail: fmt.Sprintf("%s (set aside %s); the next backup fetches it again",
			r.Detail, r.Since.Local().Format("2006-01-02 15:04"))})
	}
	return err
}

func (v *verifier) temps() error {
	entries, err := os.ReadDir(filepath.Join(v.f.Dir, "tmp"))
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := Problem{Kind: ProblemStaleTemp, Detail: "tmp/" + e.Name()}
		if v.opts.Repair {
			p.Repaired = os.Remove(filepath.Join(v.f.Dir, "tmp", e.Name())) == nil
		}
		v.report(p)
	}
	return nil
}

// rows checks the folder's catalog rows, a page at a time in UID order,
// each against the file its row names. A row whose file is not there
// under that name (a crash between a rename and its row, a file renamed
// by hand) goes to later by key, for the listing to find.
func (v *verifier) rows(ctx context.Context, later map[string]int64) error {
	var after Message
	for {
		page, err := v.a.Catalog.FolderMessagesAfter(ctx, v.state.ID, after, verifyPage)
		if err != nil || len(page) == 0 {
			return err
		}
		for _, m := range page {
			if err := v.row(ctx, m, later); err != nil {
				return err
			}
		}
		after = page[len(page)-1]
	}
}

func (v *verifier) row(ctx context.Context, m Message, later map[string]int64) error {
	notHere := func(string) error {
		later[m.Key] = m.ID
		return nil
	}
	mf, err := ParseMessageFile(m.File)
	if err != nil || mf.Key != m.Key {
		return notHere("")
	}
	return v.check(ctx, m, mf, notHere)
}

// listing reads the folder's listing a chunk at a time. A file named as
// its row names it was checked by rows; a file of a row in later is
// checked now; any other message file is an orphan, unless a pending
// prune lists it; what is not a message file is a stray, reported sorted.
func (v *verifier) listing(ctx context.Context, later map[string]int64) error {
	staged, err := v.a.Catalog.staged(ctx, v.state.ID)
	if err != nil {
		return err
	}
	var others []string
	err = v.a.eachListed(ctx, v.f, v.state.ID, func(chunk []listedFile) error {
		for _, lf := range chunk {
			if err := v.listed(ctx, lf, later, staged); err != nil {
				return err
			}
		}
		return nil
	}, func(o string) { others = append(others, o) })
	slices.Sort(others)
	for _, o := range others {
		v.report(Problem{Kind: ProblemStrayFile, Detail: o})
	}
	return err
}

func (v *verifier) listed(ctx context.Context, lf listedFile, later map[string]int64, staged map[string]Message) error {
	id, ok := later[lf.Key]
	switch {
	case ok:
		delete(later, lf.Key)
		m, err := v.a.Catalog.messageByID(ctx, id)
		if err != nil {
			return err
		}
		return v.check(ctx, m, lf.MessageFile, func(detail string) error { return v.missing(ctx, m, detail) })
	case lf.rowFile == lf.Name() || v.pruned[lf.Key]:
		return nil
	}
	return v.orphan(ctx, lf.MessageFile, staged)
}

// unfound reports the rows of later that the listing found no file for.
func (v *verifier) unfound(ctx context.Context, later map[string]int64) error {
	ids := slices.Sorted(maps.Values(later))
	for _, id := range ids {
		m, err := v.a.Catalog.messageByID(ctx, id)
		if err != nil {
			return err
		}
		if err := v.missing(ctx, m, m.File); err != nil {
			return err
		}
	}
	return nil
}

// check reads one file through the verified stream and compares it with
// its row and its own name.
func (v *verifier) check(ctx context.Context, m Message, mf MessageFile, gone func(detail string) error) error {
	m.File = mf.Name() // the file the scan found
	size, vsize, err := v.measureOnce(m, mf)
	if errors.Is(err, fs.ErrNotExist) {
		return gone(err.Error())
	}
	v.rep.Messages++
	if v.opts.Checked != nil {
		v.opts.Checked(size)
	}
	switch {
	case identityError(err):
		return err
	case err != nil:
		return v.corrupt(ctx, m, mf, err.Error())
	case size != mf.Size || vsize != mf.VSize:
		return v.badName(ctx, m, mf, size, vsize)
	}
	return nil
}

// measureOnce measures a message's file, unless it is a hard link to a
// content measured already for a row with the same size and SHA-256:
// that content gives the same answer under every name.
func (v *verifier) measureOnce(m Message, mf MessageFile) (size, vsize int64, err error) {
	var id inode
	fi, serr := os.Lstat(v.f.Path(mf))
	if errors.Is(serr, fs.ErrNotExist) {
		return 0, 0, serr // not under this name: the caller looks further
	}
	links := uint64(0) // the inode's names, when it has more than one
	if serr == nil {
		if ino, ok := inodeOf(fi); ok && ino.nlink > 1 {
			id, links = ino, ino.nlink
			id.nlink = 0
		}
	}
	if links > 0 {
		if r, ok := v.seen[id]; ok && r.sum == m.SHA256 && (r.err != nil || r.size == m.Size) {
			v.rep.Shared++
			if r.left--; r.left == 0 {
				delete(v.seen, id) // its last name: no other will ask
			} else {
				v.seen[id] = r
			}
			if r.err != nil {
				return r.size, r.vsize, fmt.Errorf("shares its file with %s: %w", r.key, r.err)
			}
			return r.size, r.vsize, nil
		}
	}
	size, vsize, err = v.f.measure(m, v.rep.HashesOnly)
	v.rep.Bytes += size
	if links > 0 {
		v.seen[id] = measured{key: m.Key, sum: m.SHA256, size: size, vsize: vsize, err: err, left: links - 1}
	}
	return size, vsize, err
}

// measure reads a message through the verified stream and returns its
// size and its size with CRLF line ends (Dovecot's S= and W=). In an
// encrypted archive with hashesOnly the file is only checked against the
// SHA-256 it was stored with, and the sizes are the row's. Decoding reads
// the file once: a damaged header is told from a wrong identity by
// OpenMessage (against the stored hash), damage further on fails the
// stream's authentication.
func (f *Folder) measure(m Message, hashesOnly bool) (size, vsize int64, err error) {
	if f.codec.encrypted && hashesOnly {
		return m.Size, m.VSize, f.Check(m)
	}
	rc, err := f.OpenMessage(m)
	if err != nil {
		return 0, 0, err
	}
	defer rc.Close()
	var cnt counter
	_, err = io.Copy(&cnt, rc)
	return cnt.n, cnt.n + cnt.bareLF, err
}

func (v *verifier) badName(ctx context.Context, m Message, mf MessageFile, size, vsize int64) error {
	p := Problem{Kind: ProblemBadName, Key: m.Key,
		Detail: fmt.Sprintf("name says S=%d,W=%d, content is S=%d,W=%d", mf.Size, mf.VSize, size, vsize)}
	if v.opts.Repair {
		to := mf
		to.Size, to.VSize = size, vsize
		if err := os.Rename(v.f.Path(mf), v.f.Path(to)); err != nil {
			return err
		}
		if err := v.f.SyncCur(); err != nil {
			return err
		}
		if err := v.a.Catalog.setFile(ctx, m.ID, to.Name()); err != nil {
			return err
		}
		p.Repaired = true
	}
	v.report(p)
	return nil
}

// corrupt reports a damaged file. With Repair, if the server still has the
// message, the file is moved aside and the message set aside to be
// fetched again.
func (v *verifier) corrupt(ctx context.Context, m Message, mf MessageFile, detail string) error {
	p := Problem{Kind: ProblemCorrupt, Key: m.Key, Detail: detail}
	has, err := v.a.Catalog.serverHas(ctx, m.ID)
	if err != nil {
		return err
	}
	if v.opts.Repair && has {
		if err := v.a.quarantine(v.f, mf); err != nil {
			return err
		}
		if err := v.setAsideRow(ctx, m, "damaged copy moved to damaged/"); err != nil {
			return err
		}
		p.Repaired, p.Detail = true, detail+"; moved to damaged/, the next backup fetches it again"
	}
	v.report(p)
	return nil
}

// missing reports a row whose file is gone. With Repair, if the server
// still has the message, it is set aside to be fetched again.
func (v *verifier) missing(ctx context.Context, m Message, detail string) error {
	p := Problem{Kind: ProblemMissingFile, Key: m.Key, Detail: detail}
	has, err := v.a.Catalog.serverHas(ctx, m.ID)
	if err != nil {
		return err
	}
	if v.opts.Repair && has {
		if err := v.setAsideRow(ctx, m, "file missing"); err != nil {
			return err
		}
		p.Repaired, p.Detail = true, detail+"; the next backup fetches it again"
	}
	v.report(p)
	return nil
}

func (v *verifier) setAsideRow(ctx context.Context, m Message, detail string) error {
	if v.setAside == nil {
		v.setAside = map[string]bool{}
	}
	v.setAside[m.Key] = true
	return v.a.Catalog.setAside(ctx, m, detail, time.Now())
}

func (a *Writer) quarantine(f *Folder, mf MessageFile) error {
	dir := filepath.Join(a.Dir, "damaged", filepath.FromSlash(f.Rel))
	if err := os.MkdirAll(dir, a.perm.dir); err != nil {
		return err
	}
	if err := os.Rename(f.Path(mf), filepath.Join(dir, mf.Name())); err != nil {
		return err
	}
	return errors.Join(SyncDir(dir), f.SyncCur())
}

// orphan reports, and with Repair adopts, one file without a row.
func (v *verifier) orphan(ctx context.Context, mf MessageFile, staged map[string]Message) error {
	key := mf.Key
	m, err := v.f.adoptRow(mf, v.state.ID, staged)
	switch {
	case errors.Is(err, ErrNoIdentity):
		v.report(Problem{Kind: ProblemOrphanFile, Key: key, Detail: mf.Name() + ": no catalog row, and adopting it needs the identity"})
		return nil
	case identityError(err):
		return err
	case err != nil:
		v.report(Problem{Kind: ProblemCorrupt, Key: key, Detail: "file without a catalog row: " + err.Error()})
		return nil
	}
	p := Problem{Kind: ProblemOrphanFile, Key: key, Detail: mf.Name()}
	if v.opts.Repair {
		if err := v.a.Catalog.AddMessages(ctx, []Message{m}, 0); err != nil {
			p.Detail += ": not adopted: " + err.Error()
		} else {
			p.Repaired = true
		}
	}
	v.report(p)
	return nil
}
