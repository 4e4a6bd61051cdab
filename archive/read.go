package archive

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrDamaged marks an archived message whose file does not give back what
// its catalog row records: it does not decode, or it ends before or after
// the recorded size, or its SHA-256 differs.
var ErrDamaged = errors.New("archived message is damaged")

// OpenMessage opens the content of the message of catalog row m, verified
// as it is read: the stream fails with an error wrapping ErrDamaged, at
// the latest where it would end, unless it gives exactly m.Size bytes with
// the SHA-256 m.SHA256 from a file that decodes cleanly. If the file was
// renamed after the row was read (a backup running meanwhile recorded a
// flag change), it is found again by its key. A message that a prune took
// after the row was read is an error wrapping ErrPruned (a reader's
// folder, from Snapshot.Folder, knows); any other file that is gone is an
// error wrapping fs.ErrNotExist. A stream already open keeps reading when
// a prune removes its file. In an encrypted archive, a reader without an
// identity, or with none that decrypts the file, gets an error that names
// the file and wraps ErrNoIdentity or ErrWrongIdentity.
func (f *Folder) OpenMessage(m Message) (io.ReadCloser, error) {
	file, err := f.openStored(m)
	if err != nil {
		return nil, err
	}
	rc, err := decode(file, f.codec)
	if err != nil {
		err = undecodable(file, m, err)
		file.Close()
		return nil, err
	}
	return Verified(rc, m), nil
}

// openStored opens the stored bytes of the file of row m, where the
// folder keeps them.
func (f *Folder) openStored(m Message) (io.ReadCloser, error) {
	if f.remote != nil {
		return f.remote(m)
	}
	return f.openRow(m)
}

// undecodable describes a file that would not decode. To age, a damaged
// header looks like a wrong identity: when the row records the SHA-256 of
// the file as stored, a local file that differs from it is damaged.
func undecodable(file io.Reader, m Message, err error) error {
	where := m.Key
	if osf, ok := file.(*os.File); ok {
		where = osf.Name()
		if errors.Is(err, ErrWrongIdentity) && m.FileSHA256 != ([32]byte{}) {
			if sum, herr := hashOpen(osf); herr == nil && sum != m.FileSHA256 {
				return fmt.Errorf("%s: %w: %w", m.Key, ErrDamaged, errStoredSum)
			}
		}
	}
	if identityError(err) {
		return fmt.Errorf("%s: %w", where, err)
	}
	return fmt.Errorf("%s: %w: %w", m.Key, ErrDamaged, err)
}

var errStoredSum = errors.New("the file does not match its recorded SHA-256 as stored")

// Check checks the file of the message of row m without decrypting it,
// so that it needs no identity: in an encrypted archive against the
// SHA-256 of the file as stored, which the row must hold (m.FileSHA256);
// in a plain archive by reading it through the verified stream, as
// OpenMessage does. It is how a backup checks a copy before the POP3
// server deletes the message, and how a replica's objects are checked.
// An error about the content wraps ErrDamaged.
func (f *Folder) Check(m Message) error {
	if !f.codec.encrypted {
		rc, err := f.OpenMessage(m)
		if err != nil {
			return err
		}
		defer rc.Close()
		_, err = io.Copy(io.Discard, rc)
		return err
	}
	file, err := f.openStored(m)
	if err != nil {
		return err
	}
	defer file.Close()
	return checkStoredSum(file, m)
}

// checkStoredSum reads a message file of an encrypted archive from r to
// the end and checks it against the SHA-256 its row recorded when it was
// stored.
func checkStoredSum(r io.Reader, m Message) error {
	if m.FileSHA256 == ([32]byte{}) {
		return fmt.Errorf("%s: %w: the catalog records no SHA-256 of the file as stored", m.Key, ErrDamaged)
	}
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return fmt.Errorf("%s: %w", m.Key, err)
	}
	if [32]byte(h.Sum(nil)) != m.FileSHA256 {
		return fmt.Errorf("%s: %w: %w", m.Key, ErrDamaged, errStoredSum)
	}
	return nil
}

// hashOpen returns the SHA-256 of an open file's bytes, from the start.
func hashOpen(file *os.File) ([32]byte, error) {
	var sum [32]byte
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(file, 0, 1<<62)); err != nil {
		return sum, err
	}
	h.Sum(sum[:0])
	return sum, nil
}

// Verified returns rc, the content of the message of row m, checked as it
// is read (see OpenMessage).
func Verified(rc io.ReadCloser, m Message) io.ReadCloser {
	return &verified{rc: rc, key: m.Key, want: m.Size, sum: m.SHA256, h: sha256.New()}
}

// verified checks a message against its catalog row while it is read.
type verified struct {
	rc   io.ReadCloser
	key  string
	want int64
	sum  [32]byte
	h    hash.Hash
	n    int64
	err  error // sticky
}

func (v *verified) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	switch {
	case v.n > v.want:
		v.err = v.damaged("is longer than its recorded %d bytes", v.want)
	case err == io.EOF && v.n < v.want:
		v.err = v.damaged("is shorter than its recorded %d bytes (%d)", v.want, v.n)
	case err == io.EOF && [32]byte(v.h.Sum(nil)) != v.sum:
		v.err = v.damaged("does not match its recorded SHA-256")
	case err != nil && err != io.EOF:
		v.err = fmt.Errorf("%s: %w: %w", v.key, ErrDamaged, err)
	default:
		return n, err
	}
	return n, v.err
}

func (v *verified) damaged(format string, args ...any) error {
	return fmt.Errorf("%s %s: %w", v.key, fmt.Sprintf(format, args...), ErrDamaged)
}

func (v *verified) Close() error { return v.rc.Close() }

// openRow opens the file of a catalog row, or the file its key has now.
func (f *Folder) openRow(m Message) (*os.File, error) {
	mf, err := ParseMessageFile(m.File)
	if err != nil {
		return nil, fmt.Errorf("catalog file name: %w", err)
	}
	file, err := os.Open(f.Path(mf))
	if !errors.Is(err, fs.ErrNotExist) {
		return file, err
	}
	name, ferr := f.findKey(m.Key)
	if ferr != nil {
		if prune, ok := f.pruned(m); ok && errors.Is(ferr, fs.ErrNotExist) {
			return nil, prunedError(m.Key, prune)
		}
		return nil, ferr
	}
	return os.Open(filepath.Join(f.Dir, "cur", name))
}

// pruned says which prune took message m, if the folder can know.
func (f *Folder) pruned(m Message) (int64, bool) {
	if f.prunedBy == nil {
		return 0, false
	}
	return f.prunedBy(m)
}

// findKey returns the name of the published file of key in cur/.
func (f *Folder) findKey(key string) (string, error) {
	entries, err := os.ReadDir(filepath.Join(f.Dir, "cur"))
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), key+",") {
			return e.Name(), nil
		}
	}
	return "", fmt.Errorf("%s: no file in %s: %w", key, f.Dir, fs.ErrNotExist)
}

// ReadMessage decodes a published file and returns its catalog row as far
// as the file alone tells it: size, hash, flags, date (the mtime) and
// Message-ID, and in an encrypted archive the SHA-256 of the file as
// stored. IMAP UIDs come from the key (ParseIMAPKey). It is how a file
// without a row is adopted when it has no staged row (see AdoptOrphans);
// in an encrypted archive it needs the identity.
func (f *Folder) ReadMessage(mf MessageFile) (Message, error) {
	m := Message{Key: mf.Key, File: mf.Name()}
	file, err := os.Open(f.Path(mf))
	if err != nil {
		return m, err
	}
	if f.codec.encrypted {
		if m.FileSHA256, err = hashOpen(file); err != nil {
			file.Close()
			return m, fmt.Errorf("read %s: %w", mf.Key, err)
		}
	}
	rc, err := decode(file, f.codec)
	if err != nil {
		file.Close()
		if identityError(err) {
			return m, fmt.Errorf("%s: %w", f.Path(mf), err)
		}
		return m, fmt.Errorf("decode %s: %w", mf.Key, err)
	}
	defer rc.Close()
	sum, cnt, head := sha256.New(), &counter{}, &headCapture{}
	if _, err := io.Copy(io.MultiWriter(sum, cnt, head), rc); err != nil {
		return m, fmt.Errorf("decode %s: %w", mf.Key, err)
	}
	copy(m.SHA256[:], sum.Sum(nil))
	m.Size, m.VSize, m.MessageID = cnt.n, cnt.n+cnt.bareLF, MessageID(head.buf)
	if m.Flags, err = f.Flags(mf.Flags); err != nil {
		return m, err
	}
	fi, err := file.Stat()
	if err != nil {
		return m, err
	}
	m.InternalDate = fi.ModTime()
	return m, nil
}
