package backup_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/backup"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/pop3"
	"github.com/mailkeep/mailkeep/transport"
)

const pop3Account = "pop"

// pop3Dialer dials addr in plain text and logs in as user. When retrs is
// not nil, it counts the RETR commands sent.
func pop3Dialer(addr, user, pass string, retrs *counter) transport.POP3Dialer {
	host, portText, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portText)
	ep := transport.Endpoint{Host: host, Port: port, TLS: config.TLSNone, Username: user, IdleTimeout: 10 * time.Second,
		Secret: func(context.Context) (string, error) { return pass, nil }}
	var opts transport.POP3Options
	if retrs != nil {
		opts.Trace = retrs
	}
	return func(ctx context.Context) (*pop3.Client, error) { return transport.DialPOP3(ctx, ep, opts) }
}

// counter counts "C: RETR" lines of a protocol trace.
type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.n += bytes.Count(p, []byte("C: RETR "))
	c.mu.Unlock()
	return len(p), nil
}

func (c *counter) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// runPOP3 opens the archive under root, runs one POP3 backup and closes it.
func runPOP3(t *testing.T, root string, opts backup.POP3Options) (backup.Result, error) {
	t.Helper()
	a, err := archive.OpenWriter(t.Context(), root, pop3Account, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if opts.BatchMessages == 0 {
		opts.BatchMessages = 7 // several batches even in small tests
	}
	res, err := backup.POP3(t.Context(), a, opts)
	t.Logf("run %d: %s %+v in %v, err %v", res.RunID, res.Outcome, res.Stats, res.Duration, err)
	return res, err
}

// mustPOP3 runs a backup that must succeed completely.
func mustPOP3(t *testing.T, root string, opts backup.POP3Options) backup.Result {
	t.Helper()
	res, err := runPOP3(t, root, opts)
	if err != nil || res.Outcome != archive.OutcomeOK {
		t.Fatalf("POP3 backup: %s, %v", res.Outcome, err)
	}
	return res
}

// stored is one archived POP3 message.
type stored struct {
	row  archive.POP3Message
	data []byte
}

// archived reads the POP3 archive under root and checks its consistency:
// no temp files, one file per row and one row per file, each file decoding
// to its row's size and hash, keys made from identities.
func archived(t *testing.T, root string) []stored {
	t.Helper()
	a, err := archive.OpenWriter(t.Context(), root, pop3Account, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	f, err := a.Folder("INBOX", 0)
	if err != nil {
		t.Fatal(err)
	}
	if tmp, _ := os.ReadDir(filepath.Join(f.Dir, "tmp")); len(tmp) > 0 {
		t.Errorf("%d files left in tmp/", len(tmp))
	}
	files, others, err := f.Scan()
	if err != nil || len(others) > 0 {
		t.Fatalf("scan: %v, others %q", err, others)
	}
	folders, err := a.Catalog.Folders(t.Context())
	if err != nil || len(folders) != 1 || folders[0].Name != "INBOX" {
		t.Fatalf("catalog folders %+v, %v; want INBOX alone", folders, err)
	}
	rows, err := a.Catalog.POP3Messages(t.Context(), folders[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(files) {
		t.Errorf("%d catalog rows, %d files", len(rows), len(files))
	}
	full, err := a.Catalog.FolderMessages(t.Context(), folders[0].ID)
	if err != nil || len(full) != len(rows) {
		t.Fatalf("%d full rows, %d POP3 rows, %v", len(full), len(rows), err)
	}
	var out []stored
	for i, r := range rows {
		if r.ID != full[i].ID || r.UIDL != full[i].UIDL || r.SHA256 != full[i].SHA256 || r.Size != full[i].Size ||
			r.File != full[i].File || r.GoneRun != full[i].GoneRun || r.FirstRun != full[i].FirstRun {
			t.Errorf("POP3 row %+v differs from its full row %+v", r.Message, full[i])
		}
		r.Message = full[i] // the tests look at every field
		mf, ok := files[r.Key]
		if !ok || mf.Name() != r.File {
			t.Errorf("row %s: file %q, found %q", r.Key, r.File, mf.Name())
			continue
		}
		rc, err := f.OpenMessage(r.Message)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || int64(len(data)) != r.Size || sha256.Sum256(data) != r.SHA256 {
			t.Errorf("file %s does not match its row: %v", r.File, err)
		}
		if _, ok := archive.ParsePOP3Key(r.Key); !ok || r.UIDL == "" {
			t.Errorf("row key %s, identity %q", r.Key, r.UIDL)
		}
		out = append(out, stored{row: r, data: data})
	}
	return out
}

// contents returns the archived messages' data, sorted.
func contents(s []stored) []string {
	out := make([]string, len(s))
	for i, m := range s {
		out[i] = string(m.data)
	}
	slices.Sort(out)
	return out
}

// sortedStrings returns the messages as sorted strings.
func sortedStrings(msgs [][]byte) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m)
	}
	slices.Sort(out)
	return out
}

// sameStrings compares two sorted lists and reports the first difference.
func sameStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d messages, want %d", what, len(got), len(want))
		return
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s: message %d of %d differs (%d bytes, want %d)", what, i, len(got), len(got[i]), len(want[i]))
			return
		}
	}
}
