package replicate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// manifestFormat marks a replica's manifest; another version is refused.
const manifestFormat = "mailkeep-replica 1"

// Manifest is the replica's one mutable object: it names the catalog
// copy that the replica holds, and so the state a reader gets. It is
// written last and replaced whole.
type Manifest struct {
	Format  string `json:"format"`
	Account string `json:"account"`
	// ArchiveFormat is the archive\'s format marker: how its files are read.
	ArchiveFormat string `json:"archive_format"`
	State                // the state the replica holds
	RunOutcome    string `json:"run_outcome"`
	Messages      int    `json:"messages"` // catalog rows
	Objects       int    `json:"objects"`  // message objects the rows name
	Bytes         int64  `json:"bytes"`    // of the messages, uncompressed
	// Missing lists the rows whose file the archive could not give when
	// the copy was made (damaged, or pruned meanwhile): the replica lacks
	// them as the archive did.
	Missing []MissingMessage `json:"missing,omitempty"`
	// Kept are earlier states that a replica with keep_pruned keeps,
	// because they name messages that prune removed from the archive
	// since: each state that a prune would have made unreachable, oldest
	// first.
	Kept    []State   `json:"kept,omitempty"`
	Created time.Time `json:"created"`
}

// State is one catalog copy in the replica and the run it ends with.
type State struct {
	Catalog       string    `json:"catalog"`        // catalog/<name>.db.zst
	CatalogSHA256 string    `json:"catalog_sha256"` // of the uncompressed copy
	CatalogSize   int64     `json:"catalog_size"`   // uncompressed
	Run           int64     `json:"run"`            // the newest run of the copy
	RunStarted    time.Time `json:"run_started"`
}

// MissingMessage is a row of the catalog copy without an object.
type MissingMessage struct {
	Folder string `json:"folder"`
	Key    string `json:"key"`
	Error  string `json:"error"`
}

// readManifest returns the replica's manifest; ok is false when there is
// none (a new replica).
func readManifest(ctx context.Context, st Store) (m Manifest, ok bool, err error) {
	rc, err := st.Get(ctx, manifestName)
	if notFound(err) {
		return Manifest{}, false, nil
	}
	if err != nil {
		return Manifest{}, false, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, 64<<20))
	if err != nil {
		return Manifest{}, false, fmt.Errorf("%s: read %s: %w", st, manifestName, err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return Manifest{}, false, fmt.Errorf("%s: %s: %w", st, manifestName, err)
	}
	if m.Format != manifestFormat {
		return Manifest{}, false, fmt.Errorf("%s: %s: format %q (this mailkeep reads %q)", st, manifestName, m.Format, manifestFormat)
	}
	return m, true, nil
}

func writeManifest(ctx context.Context, st Store, m Manifest) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	return st.Put(ctx, manifestName, bytes.NewReader(data), int64(len(data)))
}
