package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// record is an account's token file.
type record struct {
	Version      int       `json:"version"`
	Account      string    `json:"account"`
	Provider     string    `json:"provider"`
	ClientID     string    `json:"client_id"`
	TokenURL     string    `json:"token_url"`
	Scopes       []string  `json:"scopes,omitempty"` // granted, or else requested
	AccessToken  string    `json:"access_token"`
	TokenType    string    `json:"token_type,omitempty"`
	Issued       time.Time `json:"issued"`          // when AccessToken was obtained
	Expiry       time.Time `json:"expiry,omitzero"` // when it expires; zero = never said
	RefreshToken string    `json:"refresh_token,omitempty"`
	LoggedIn     time.Time `json:"logged_in"`        // the login that started this grant
	RefreshFrom  time.Time `json:"refresh_obtained"` // when RefreshToken was issued
}

const recordVersion = 1

// errNoTokens: the account has no token file.
var errNoTokens = errors.New("no tokens stored")

// store is the directory of token files, StateDir/oauth2.
type store struct {
	dir     string
	account string
}

func (s store) path() string     { return filepath.Join(s.dir, s.account+".json") }
func (s store) lockPath() string { return filepath.Join(s.dir, s.account+".lock") }

// ensureDir creates the state directory and its oauth2 directory, owner-only,
// and takes group and other access away from an oauth2 directory that has
// it.
func (s store) ensureDir() error {
	if err := os.MkdirAll(filepath.Dir(s.dir), 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	if err := os.Mkdir(s.dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("token directory: %w", err)
	}
	fi, err := os.Stat(s.dir)
	if err != nil {
		return fmt.Errorf("token directory: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(s.dir, 0o700); err != nil {
			return fmt.Errorf("token directory: %w", err)
		}
	}
	return nil
}

// lockPoll is how often a waiting lock is tried again.
const lockPoll = 20 * time.Millisecond

// lock takes the account's exclusive lock, waiting until the holder (this
// or another process) releases it or ctx ends. The lock is an flock on a
// file of its own: the token file is replaced by rename, so a lock on it
// would be a lock on a file that is gone.
func (s store) lock(ctx context.Context) (unlock func(), err error) {
	if err := s.ensureDir(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(s.lockPath(), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("token lock: %w", err)
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing releases the lock
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("token lock %s: %w", s.lockPath(), err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for the token lock %s: %w", s.lockPath(), ctx.Err())
		case <-time.After(lockPoll):
		}
	}
}

// read returns the stored record, or errNoTokens. Its errors name the
// file, never its contents.
func (s store) read() (*record, error) {
	data, err := os.ReadFile(s.path())
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, errNoTokens
	case err != nil:
		return nil, fmt.Errorf("token file: %w", err)
	}
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("token file %s: damaged (not JSON)", s.path())
	}
	if r.Version != recordVersion {
		return nil, fmt.Errorf("token file %s: version %d, want %d", s.path(), r.Version, recordVersion)
	}
	return &r, nil
}

// write replaces the token file atomically: a temporary file in the same
// directory, written, fsynced and renamed over the old one, then the
// directory fsynced. A crash leaves the old file or the new one, never a
// mix, and at worst a temporary file that the next write does not mind.
func (s store) write(r *record) (err error) {
	r.Version = recordVersion
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	f, err := os.CreateTemp(s.dir, "."+s.account+".json.tmp-*") // mode 0600
	if err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	if err := os.Rename(f.Name(), s.path()); err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	return syncDir(s.dir)
}

// remove deletes the token file. The lock file stays: removing it while
// another process waits on it would let a third lock a new file.
func (s store) remove() (bool, error) {
	err := os.Remove(s.path())
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("token file: %w", err)
	}
	return true, syncDir(s.dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("token directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("token directory: %w", err)
	}
	return nil
}
