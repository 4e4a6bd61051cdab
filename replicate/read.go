package replicate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/mailkeep/mailkeep/archive"
)

// ErrNoReplica reports a store that holds no replica of the account.
var ErrNoReplica = errors.New("no replica there")

// Replica is a replica opened for reading: the state its manifest names,
// as an archive.Snapshot whose messages are read from the store as they
// are opened (streamed and verified like the archive's own). Closing the
// Snapshot (or the Replica) removes the fetched catalog copy.
type Replica struct {
	*archive.Snapshot
	Manifest Manifest
}

// ErrNoState reports a kept state that the replica does not have.
var ErrNoState = errors.New("the replica keeps no such state")

// Open reads the replica's manifest, fetches the catalog copy of the state
// it names into a temp directory under tmpDir ("" for the system's),
// checks its SHA-256 and opens it. Close removes the temp directory.
func Open(ctx context.Context, st Store, tmpDir string) (*Replica, error) {
	return OpenKept(ctx, st, tmpDir, 0)
}

// OpenKept is Open for the state that ends with run (see Manifest.Kept);
// run 0 is the state the replica holds.
func OpenKept(ctx context.Context, st Store, tmpDir string, run int64) (*Replica, error) {
	m, ok, err := readManifest(ctx, st)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s: %w (no %s)", st, ErrNoReplica, manifestName)
	}
	if err := archive.CheckFormatMarker(m.ArchiveFormat); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", st, manifestName, err)
	}
	if m.State, err = m.state(run); err != nil {
		return nil, fmt.Errorf("%s: %w", st, err)
	}
	tmp, err := os.MkdirTemp(tmpDir, "mailkeep-replica-")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(tmp, "catalog.db")
	if err := fetchCatalog(ctx, st, m, path); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	open := func(_ archive.FolderState, msg archive.Message) (io.ReadCloser, error) {
		return st.Get(ctx, messageName(objectSum(msg)))
	}
	snap, err := archive.OpenCatalogCopy(ctx, path, m.ArchiveFormat, open, func() error { return os.RemoveAll(tmp) })
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	return &Replica{Snapshot: snap, Manifest: m}, nil
}

// state returns the state that ends with run: a kept one (the newest of
// them, when several end with it: a prune records no run of its own, so
// the state before a prune may end with the same run as the one after
// it), else the current one; run 0 is the current one.
func (m Manifest) state(run int64) (State, error) {
	if run == 0 {
		return m.State, nil
	}
	for i := len(m.Kept) - 1; i >= 0; i-- {
		if m.Kept[i].Run == run {
			return m.Kept[i], nil
		}
	}
	if run == m.Run {
		return m.State, nil
	}
	runs := []string{fmt.Sprint(m.Run)}
	for _, k := range m.Kept {
		runs = append(runs, fmt.Sprint(k.Run))
	}
	return State{}, fmt.Errorf("%w: run %d (it has the states of runs %s)", ErrNoState, run, strings.Join(runs, ", "))
}

// fetchCatalog writes the uncompressed catalog copy of m to path and
// checks its size and SHA-256 against the manifest.
func fetchCatalog(ctx context.Context, st Store, m Manifest, path string) error {
	rc, err := st.Get(ctx, m.Catalog)
	if err != nil {
		return fmt.Errorf("catalog copy: %w", err)
	}
	defer rc.Close()
	zr, err := zstd.NewReader(rc, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	if err != nil {
		return err
	}
	defer zr.Close()
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), zr)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return fmt.Errorf("%s: catalog copy %s: %w", st, m.Catalog, err)
	case n != m.CatalogSize || hex.EncodeToString(h.Sum(nil)) != m.CatalogSHA256:
		return fmt.Errorf("%s: catalog copy %s: %w: its size or SHA-256 differ from the manifest's",
			st, m.Catalog, archive.ErrDamaged)
	}
	return nil
}
