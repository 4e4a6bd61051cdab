package replicate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"

	"github.com/mailkeep/mailkeep/archive"
)

// Problem kinds of Check, beside archive's.
const (
	ProblemMissingObject = "missing-object" // a row whose message object the replica lacks
	ProblemNotReplicated = "not-replicated" // a row the archive could not give when the state was replicated
)

// Report is what Check found: the archive's kinds of report, plus the
// message objects that no row names. Those are no fault: keep_pruned
// keeps them, and a run that was interrupted may have sent them for a
// state it never published (the next run removes them).
type Report struct {
	archive.Report
	Run     int64   // the run the state ends with
	Unnamed int     // message objects no row of the state names
	Kept    []int64 // the runs of the kept states (keep_pruned)
}

// CheckOptions: Quick checks that each object is there (one listing)
// without reading it. Checked, if set, is called after each object read
// (from several goroutines at once).
type CheckOptions struct {
	Quick   bool
	Checked func(bytes int64)
}

// Check verifies a replica against the catalog copy its manifest names:
// the copy's size, SHA-256 and integrity, then every row's message object:
// there (listed), and unless opts.Quick read, decoded and checked against
// the row's size and SHA-256 (in an encrypted archive, checked against the
// SHA-256 it was stored with, without the identity).
func Check(ctx context.Context, st Store, opts CheckOptions) (Report, error) {
	var rep Report
	rp, err := Open(ctx, st, "")
	if err != nil {
		return rep, err
	}
	defer rp.Close()
	rep.Run = rp.Manifest.Run
	for _, k := range rp.Manifest.Kept {
		rep.Kept = append(rep.Kept, k.Run)
	}
	if res, err := rp.IntegrityCheck(ctx); err != nil {
		return rep, err
	} else if res != "" {
		rep.Problems = append(rep.Problems, archive.Problem{Kind: archive.ProblemCatalog, Detail: res})
	}
	have := map[string]bool{}
	if err := st.List(ctx, messagePrefix, func(name string, _ int64) error { have[name] = true; return nil }); err != nil {
		return rep, err
	}
	c := &checker{rp: rp, have: have, named: map[string]bool{}, rep: &rep.Report, opts: opts}
	if err := c.all(ctx); err != nil {
		return rep, err
	}
	for name := range have {
		if !c.named[name] {
			rep.Unnamed++
		}
	}
	return rep, nil
}

type checker struct {
	rp      *Replica
	have    map[string]bool
	named   map[string]bool
	missing map[string]string // "folder\x00key" of rows not replicated
	rep     *archive.Report
	opts    CheckOptions
	mu      sync.Mutex // guards rep.Problems while objects are read
}

func (c *checker) all(ctx context.Context) error {
	c.missing = map[string]string{}
	for _, m := range c.rp.Manifest.Missing {
		c.missing[m.Folder+"\x00"+m.Key] = m.Error
	}
	folders, err := c.rp.Folders(ctx, all)
	if err != nil {
		return err
	}
	c.rep.Folders = len(folders)
	for _, f := range folders {
		if err := c.folder(ctx, f.FolderState); err != nil {
			return fmt.Errorf("check folder %q: %w", f.Name, err)
		}
	}
	return nil
}

func (c *checker) folder(ctx context.Context, st archive.FolderState) error {
	f, err := c.rp.Folder(st)
	if err != nil {
		return err
	}
	reads := make(chan archive.Message)
	var wg sync.WaitGroup
	for range checkWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range reads {
				c.read(f, st, m)
			}
		}()
	}
	defer func() { close(reads); wg.Wait() }()
	return c.rp.EachMessage(ctx, st.ID, all, func(m archive.Message) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		c.rep.Messages++
		c.rep.Bytes += m.Size
		name := messageName(objectSum(m))
		first := !c.named[name]
		c.named[name] = true
		if p, bad := c.present(st, m); bad {
			c.problem(p)
		} else if first && !c.opts.Quick {
			reads <- m
		}
		return nil
	})
}

// checkWorkers is how many objects Check reads at once.
const checkWorkers = 4

// present checks that one row's object is listed.
func (c *checker) present(st archive.FolderState, m archive.Message) (archive.Problem, bool) {
	name := messageName(objectSum(m))
	p := archive.Problem{Folder: st.Name, Key: m.Key}
	if detail, ok := c.missing[st.Name+"\x00"+m.Key]; ok && !c.have[name] {
		p.Kind, p.Detail = ProblemNotReplicated, "the archive could not give it: "+detail
		return p, true
	}
	if !c.have[name] {
		p.Kind, p.Detail = ProblemMissingObject, name
		return p, true
	}
	return p, false
}

// read reads one row's object and checks it against the row.
func (c *checker) read(f *archive.Folder, st archive.FolderState, m archive.Message) {
	err := readAll(f, m)
	if c.opts.Checked != nil {
		c.opts.Checked(m.Size)
	}
	p := archive.Problem{Folder: st.Name, Key: m.Key}
	switch {
	case err == nil:
		return
	case errors.Is(err, fs.ErrNotExist):
		p.Kind, p.Detail = ProblemMissingObject, messageName(objectSum(m))
	default:
		p.Kind, p.Detail = archive.ProblemCorrupt, err.Error()
	}
	c.problem(p)
}

func (c *checker) problem(p archive.Problem) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rep.Problems = append(c.rep.Problems, p)
}

// readAll reads a message's object through and checks it against its
// row: decoded in a plain archive, against the SHA-256 as stored in an
// encrypted one (archive.Folder.Check), so no identity is needed.
func readAll(f *archive.Folder, m archive.Message) error { return f.Check(m) }
