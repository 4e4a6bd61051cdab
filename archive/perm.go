package archive

import (
	"io/fs"
	"os"

	"github.com/mailkeep/mailkeep/internal/sqlitefile"
)

// perm is the access an account's archive grants. It is owner-only (0600
// files, 0700 directories, as mbsync does) whatever the umask, unless an
// administrator gave the account directory's group read access (chmod
// g+rX): then new files are 0640 and directories 0750, so that the group
// keeps reading what later runs add. Nothing is ever writable by others
// than the owner.
type perm struct{ file, dir fs.FileMode }

var (
	private   = perm{file: 0o600, dir: 0o700}
	groupRead = perm{file: 0o640, dir: 0o750}
)

// permOf returns the perm an existing account directory asks for.
func permOf(dir string) perm {
	fi, err := os.Stat(dir)
	if err == nil && fi.Mode().Perm()&0o050 == 0o050 {
		return groupRead
	}
	return private
}

// createFile creates an empty file with mode m unless it exists.
func createFile(path string, m fs.FileMode) error { return sqlitefile.Create(path, m) }
