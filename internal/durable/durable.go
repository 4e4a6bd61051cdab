// Package durable holds the step that makes a batch of new files durable,
// shared by the archive's writer and the export's: fsync them together.
package durable

import (
	"errors"
	"fmt"
	"os"
	"sync"
)

// Parallel is how many fsyncs SyncClose keeps in flight, so that the
// filesystem can commit them in one journal transaction.
const Parallel = 16

// SyncClose fsyncs and closes every file, Parallel at a time; name(i)
// names file i in errors. Every file is closed, whatever fails.
func SyncClose(files []*os.File, name func(i int) string) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, Parallel)
	)
	for i, f := range files {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := f.Sync()
			if err != nil {
				err = fmt.Errorf("sync %s: %w", name(i), err)
			}
			if cerr := f.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("close %s: %w", name(i), cerr)
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
