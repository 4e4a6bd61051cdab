package replicate

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/mailkeep/mailkeep/archive"
)

// job is one message object to send: a row of the catalog copy and its
// folder.
type job struct {
	folder archive.FolderState
	msg    archive.Message
}

// all is the view of every row: every folder and message the catalog
// holds, gone ones too, so that the replica is the whole archive.
var all = archive.View{Gone: archive.GoneToo}

// sendMessages sends the message objects that the rows of the catalog
// copy name and the replica lacks, and returns the SHA-256s that the rows
// name. It reads the copy twice: once to count what is to send, once to
// send it; a folder's rows at a time.
func (r *run) sendMessages(ctx context.Context, have map[string]bool) (map[[32]byte]bool, error) {
	folders, err := r.copy.Folders(ctx, all)
	if err != nil {
		return nil, err
	}
	refs := map[[32]byte]bool{}
	var todo int
	var todoBytes int64
	err = r.eachMessage(ctx, folders, func(_ archive.FolderState, m archive.Message) error {
		r.res.Messages++
		r.bytes += m.Size
		if refs[objectSum(m)] {
			return nil
		}
		refs[objectSum(m)] = true
		if have[messageName(objectSum(m))] {
			r.res.Present++
		} else {
			todo, todoBytes = todo+1, todoBytes+m.Size
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.res.Objects = len(refs)
	r.opts.Progress.Start(todo, todoBytes)
	return refs, r.sendMissing(ctx, folders, have)
}

// eachMessage calls fn for every row of the catalog copy, folder by folder.
func (r *run) eachMessage(ctx context.Context, folders []archive.ViewFolder, fn func(archive.FolderState, archive.Message) error) error {
	for _, f := range folders {
		if err := r.copy.EachMessage(ctx, f.ID, all, func(m archive.Message) error {
			return fn(f.FolderState, m)
		}); err != nil {
			return err
		}
	}
	return nil
}

// sendMissing sends, with opts.Workers at once, each object the replica
// lacks. A message whose file the archive cannot give is recorded as
// missing; a failure of the store ends the run.
func (r *run) sendMissing(ctx context.Context, folders []archive.ViewFolder, have map[string]bool) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range r.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := r.send(ctx, j); err != nil {
					cancel(err)
				}
			}
		}()
	}
	queued := map[[32]byte]bool{}
	err := r.eachMessage(ctx, folders, func(f archive.FolderState, m archive.Message) error {
		if queued[objectSum(m)] || have[messageName(objectSum(m))] {
			return nil
		}
		queued[objectSum(m)] = true
		select {
		case jobs <- job{f, m}:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	close(jobs)
	wg.Wait()
	if err == nil {
		err = context.Cause(ctx)
	}
	return err
}

// send checks one message's file against its row and sends it.
func (r *run) send(ctx context.Context, j job) error {
	file, size, err := r.openChecked(j)
	if err != nil {
		r.missing(j, err)
		return nil
	}
	defer file.Close()
	if err := r.st.Put(ctx, messageName(objectSum(j.msg)), file, size); err != nil {
		return err
	}
	r.mu.Lock()
	r.res.Sent++
	r.res.SentBytes += size
	r.mu.Unlock()
	r.opts.Progress.Message(j.msg.Size)
	return nil
}

// openChecked opens the archive's file of a row, positioned at its start,
// after checking that it decodes to the row's size and SHA-256 (in an
// encrypted archive, that it is the file stored then): a damaged file is
// never sent.
func (r *run) openChecked(j job) (*os.File, int64, error) {
	f, err := r.folder(j.folder)
	if err != nil {
		return nil, 0, err
	}
	file, err := f.OpenFile(j.msg)
	if err != nil {
		return nil, 0, err
	}
	fi, err := file.Stat()
	if err == nil {
		err = f.CheckStored(file, j.msg)
	}
	if err == nil {
		_, err = file.Seek(0, io.SeekStart)
	}
	if err != nil {
		file.Close()
		return nil, 0, err
	}
	return file, fi.Size(), nil
}

func (r *run) missing(j job, err error) {
	r.opts.Log.Warn("message not replicated", "folder", j.folder.Name, "key", j.msg.Key, "err", err)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.Missing = append(r.res.Missing, MissingMessage{Folder: j.folder.Name, Key: j.msg.Key, Error: fmt.Sprint(err)})
}

// folder opens the archive's Maildir of a folder of the copy, once.
func (r *run) folder(st archive.FolderState) (*archive.Folder, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f, ok := r.folders[st.ID]; ok {
		return f, nil
	}
	f, err := r.live.Folder(st)
	if err != nil {
		return nil, err
	}
	if r.folders == nil {
		r.folders = map[int64]*archive.Folder{}
	}
	r.folders[st.ID] = f
	return f, nil
}
