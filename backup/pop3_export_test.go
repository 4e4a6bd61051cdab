package backup

import (
	"io"
	"testing"

	"github.com/mailkeep/mailkeep/archive"
)

// SetPOP3Write replaces, until the test ends, the function through which
// POP3 backup streams each message into tmp/. Tests that use it must not
// run in parallel.
func SetPOP3Write(t testing.TB, write func(*archive.Spool, *archive.Folder, io.Reader) (*archive.Staged, error)) {
	old := pop3Write
	pop3Write = write
	t.Cleanup(func() { pop3Write = old })
}
