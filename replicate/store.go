package replicate

import (
	"github.com/mailkeep/mailkeep/archive"

	"context"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
)

// Store is where one account's replica lives: a prefix of a bucket or a
// directory. Names are slash-separated and relative to it.
type Store interface {
	// List calls fn for each object whose name starts with prefix. It
	// never lists an object that is not complete.
	List(ctx context.Context, prefix string, fn func(name string, size int64) error) error
	// Put stores size bytes from r under name, replacing what was there.
	// The object is complete and durable when Put returns nil, and absent
	// or unchanged when it fails or the process dies.
	Put(ctx context.Context, name string, r io.Reader, size int64) error
	// Get opens an object; a missing one is an error wrapping
	// fs.ErrNotExist.
	Get(ctx context.Context, name string) (io.ReadCloser, error)
	// Delete removes an object; a missing one is no error.
	Delete(ctx context.Context, name string) error
	// String names the replica in messages: s3://bucket/prefix… or a path.
	String() string
}

// Names in a replica (see doc/design.md, "Replicas").
const (
	manifestName  = "MANIFEST"
	catalogPrefix = "catalog/"
	messagePrefix = "msg/"
)

// messageName is the object that holds the message whose SHA-256 is sum:
// msg/<first two hex digits>/<64 hex digits>.
func messageName(sum [32]byte) string {
	h := hex.EncodeToString(sum[:])
	return messagePrefix + h[:2] + "/" + h
}

// objectSum is the SHA-256 that names the object of a row's message file:
// of the message in a plain archive, so that a message is sent once
// whatever its folders and flags; of the file as stored in an encrypted
// archive, where each file is encrypted on its own, so that an object is
// checked against the row it was sent for without the identity.
func objectSum(m archive.Message) [32]byte {
	if m.FileSHA256 != ([32]byte{}) {
		return m.FileSHA256
	}
	return m.SHA256
}

// notFound reports whether err says an object is missing.
func notFound(err error) bool { return errors.Is(err, fs.ErrNotExist) }
