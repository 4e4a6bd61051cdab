package dovecottest

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
)

// sysUsers are the system accounts Dovecot's processes run as.
type sysUsers struct {
	Root                    bool
	Mail, MailGroup         string
	MailUID, MailGID        int
	Internal, InternalGroup string
	Login                   string
}

// lookupSysUsers returns the packaged accounts (mail, dovecot, dovenull) when
// running as root, and the current user for everything otherwise.
func lookupSysUsers() (sysUsers, error) {
	if os.Geteuid() != 0 {
		return currentSysUsers()
	}
	mail, err := user.Lookup("mail")
	if err != nil {
		return sysUsers{}, fmt.Errorf("look up mail user: %w", err)
	}
	s := sysUsers{Root: true, Mail: "mail", MailGroup: "mail",
		Internal: "dovecot", InternalGroup: "dovecot", Login: "dovenull"}
	s.MailUID, _ = strconv.Atoi(mail.Uid)
	s.MailGID, _ = strconv.Atoi(mail.Gid)
	return s, nil
}

func currentSysUsers() (sysUsers, error) {
	u, err := user.Current()
	if err != nil {
		return sysUsers{}, fmt.Errorf("look up current user: %w", err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		return sysUsers{}, fmt.Errorf("look up current group: %w", err)
	}
	s := sysUsers{Mail: u.Username, MailGroup: g.Name,
		Internal: u.Username, InternalGroup: g.Name, Login: u.Username}
	s.MailUID, _ = strconv.Atoi(u.Uid)
	s.MailGID, _ = strconv.Atoi(u.Gid)
	return s, nil
}

// chownTree gives the tree at root to the mail user (a no-op unless root).
func (s sysUsers) chownTree(root string) error {
	if !s.Root {
		return nil
	}
	return filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, s.MailUID, s.MailGID)
	})
}

// mkdirMail creates dir (and parents) owned by the mail user, mode 0755.
func (s sysUsers) mkdirMail(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return s.chownTree(dir)
}
