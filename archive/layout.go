package archive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// FormatVersion is the format of a plain archive, which this build writes
// and reads: each message file one zstd frame, which Dovecot reads.
const FormatVersion = 1

// FormatVersionEncrypted is the format of an encrypted archive: version 1
// with each message file's zstd frame encrypted with age. Its marker names
// the encryption ("mailkeep-archive 2 age"), and a build that reads only
// version 1 refuses it.
const FormatVersionEncrypted = 2

// formatEncryption is the word after FormatVersionEncrypted in the marker.
const formatEncryption = "age"

const (
	formatFile  = "FORMAT"
	formatMagic = "mailkeep-archive"
	lockFile    = "lock"
	catalogFile = "catalog.db"
	mailDir     = "mail"
	// MaildirLevel is the Dovecot DIRNAME: every folder's cur/new/tmp live below it.
	MaildirLevel = ".mk"
)

// ErrBusy reports that another process holds the account's lock.
var ErrBusy = errors.New("account is busy: another mailkeep process holds its lock")

// ErrFormat reports an archive written by an unknown format version.
var ErrFormat = errors.New("unsupported archive format")

// ErrEncryption reports an archive whose encryption differs from the
// account's configuration: an archive is never half encrypted, so a writer
// refuses it.
var ErrEncryption = errors.New("the archive's encryption differs from the account's")

// Writer is one account's archive, open and locked for writing: the
// backup, verify and rebuild side. Readers use a Snapshot.
type Writer struct {
	Dir     string // <archive>/<account>
	Catalog *Catalog
	log     *slog.Logger
	lock    *os.File
	perm    perm
	codec   *codec
}

// OpenWriter creates (if needed), locks and opens the archive of an account
// without encryption. It returns ErrBusy when another process holds the
// lock, and refuses an encrypted archive (ErrEncryption).
func OpenWriter(ctx context.Context, root, name string, log *slog.Logger) (*Writer, error) {
	return OpenWriterKeys(ctx, root, name, log, nil)
}

// OpenWriterKeys is OpenWriter for an account with the encryption keys
// keys (nil: none). A new archive is created encrypted when keys is set;
// an existing archive whose encryption differs is refused (ErrEncryption).
// Recipients are needed to write message files, identities only to decode
// them (see Keys).
func OpenWriterKeys(ctx context.Context, root, name string, log *slog.Logger, keys *Keys) (*Writer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, private.dir); err != nil {
		return nil, fmt.Errorf("create archive dir: %w", err)
	}
	p := permOf(dir)
	if err := os.MkdirAll(filepath.Join(dir, mailDir), p.dir); err != nil {
		return nil, fmt.Errorf("create archive dir: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	a := &Writer{Dir: dir, log: log, lock: lock, perm: p}
	if err := a.open(ctx, keys); err != nil {
		lock.Close()
		return nil, err
	}
	return a, nil
}

func (a *Writer) open(ctx context.Context, keys *Keys) error {
	encrypted, err := checkFormat(a.Dir, a.perm, keys != nil)
	if err != nil {
		return err
	}
	if a.codec, err = writerCodec(a.Dir, encrypted, keys); err != nil {
		return err
	}
	path := filepath.Join(a.Dir, catalogFile)
	if err := createFile(path, a.perm.file); err != nil {
		return fmt.Errorf("create catalog: %w", err)
	}
	cat, err := OpenCatalog(ctx, path)
	if err != nil {
		return err
	}
	a.Catalog = cat
	return nil
}

// Close closes the catalog and releases the lock.
func (a *Writer) Close() error {
	var err error
	if a.Catalog != nil {
		err = a.Catalog.Close()
	}
	return errors.Join(err, a.lock.Close())
}

// MailDir is the root of the account's Maildir tree.
func (a *Writer) MailDir() string { return filepath.Join(a.Dir, mailDir) }

func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, private.file)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	// A process that forks (to run anything) shares the lock's open file
	// with its child until the child's exec closes it, so a lock released
	// a moment ago can still look held: retry briefly before reporting
	// another holder.
	deadline := time.Now().Add(lockGrace)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return f, nil
		case !errors.Is(err, unix.EWOULDBLOCK):
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", dir, err)
		case time.Now().After(deadline):
			f.Close()
			return nil, ErrBusy
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lockGrace is how long lockDir waits for a lock that is held.
const lockGrace = 200 * time.Millisecond

// checkFormat writes the format marker into a new archive, encrypted or
// not, refuses an archive of another version, and says whether the
// archive is encrypted.
func checkFormat(dir string, p perm, encrypted bool) (bool, error) {
	is, err := readFormat(dir)
	if !errors.Is(err, ErrNoArchive) {
		return is, err
	}
	return encrypted, WriteFileAtomic(filepath.Join(dir, formatFile), formatMarker(encrypted), p.file)
}

// formatMarker is the content of the FORMAT file of a new archive.
func formatMarker(encrypted bool) []byte {
	if encrypted {
		return fmt.Appendf(nil, "%s %d %s\n", formatMagic, FormatVersionEncrypted, formatEncryption)
	}
	return fmt.Appendf(nil, "%s %d\n", formatMagic, FormatVersion)
}

// Encrypted reports whether the archive's message files are encrypted.
func (a *Writer) Encrypted() bool { return a.codec.encrypted }
