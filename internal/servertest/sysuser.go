package servertest

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// SysUser is the system account a server's mail processes run as: "mail"
// when the test binary runs as root, as in a packaged installation, and
// the current user otherwise.
type SysUser struct {
	Name     string
	UID, GID int
	Root     bool // the test binary runs as root
}

// LookupSysUser returns the account servers run as.
func LookupSysUser() (SysUser, error) {
	name := "mail"
	root := os.Geteuid() == 0
	var u *user.User
	var err error
	if root {
		u, err = user.Lookup(name)
	} else {
		u, err = user.Current()
	}
	if err != nil {
		return SysUser{}, fmt.Errorf("look up the server's user: %w", err)
	}
	s := SysUser{Name: u.Username, Root: root}
	s.UID, _ = strconv.Atoi(u.Uid)
	s.GID, _ = strconv.Atoi(u.Gid)
	return s, nil
}

// Credential is what a child process needs to run as the account: nil
// when it is the current user.
func (s SysUser) Credential() *syscall.Credential {
	if !s.Root {
		return nil
	}
	return &syscall.Credential{Uid: uint32(s.UID), Gid: uint32(s.GID), Groups: []uint32{}}
}

// ChownTree gives the tree at root to the account (a no-op unless root).
func (s SysUser) ChownTree(root string) error {
	if !s.Root {
		return nil
	}
	return filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, s.UID, s.GID)
	})
}

// PackageVersion reads the version of the Debian package pkg from the list
// that scripts/test-servers.sh leaves in an unpacked root, or "unknown".
func PackageVersion(root, pkg string) string {
	f, err := os.Open(filepath.Join(root, ".packages"))
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), pkg+"="); ok {
			return v
		}
	}
	return "unknown"
}

// FolderName returns a server's name for a personal folder given with "/"
// as separator, under the personal namespace prefix with the server's
// delimiter: ("Archive/2024", "INBOX.", '.') is "INBOX.Archive.2024".
// INBOX stays INBOX.
func FolderName(name, prefix string, delim rune) string {
	if strings.EqualFold(name, "INBOX") {
		return "INBOX"
	}
	return prefix + strings.ReplaceAll(name, "/", string(delim))
}
