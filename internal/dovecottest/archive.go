package dovecottest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// ArchiveUser is the one account of a ServeArchive server; its password is
// "secret-archive".
const ArchiveUser = "archive"

// ServeArchive starts a Dovecot whose single user ArchiveUser sees a copy of
// the mailkeep archive mail tree mailDir (an account's mail/ directory),
// served the documented way:
//
//	mail_location = maildir:<copy>:LAYOUT=fs:DIRNAME=.mk:INBOX=<copy>/INBOX/.mk:INDEX=<dir>/index
//	mail_plugins = $mail_plugins zlib
//
// The copy keeps modes and modification times (INTERNALDATE) and belongs to
// the mail user, so the files Dovecot adds (dovecot-uidlist next to each
// folder's dovecot-keywords) never touch mailDir. MailDir(ArchiveUser)
// returns the copy.
func ServeArchive(t testing.TB, mailDir string) *Server {
	t.Helper()
	s := newServer(t)
	copyDir := filepath.Join(s.Dir, "archive")
	if err := copyTree(copyDir, mailDir); err != nil {
		t.Fatalf("dovecottest: copy archive: %v", err)
	}
	if err := s.sys.chownTree(copyDir); err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	index := filepath.Join(s.Dir, "index")
	if err := s.sys.mkdirMail(index); err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	s.mailLocation = fmt.Sprintf("maildir:%s:LAYOUT=fs:DIRNAME=.mk:INBOX=%s:INDEX=%s",
		copyDir, filepath.Join(copyDir, "INBOX", ".mk"), index)
	if err := s.prepare([]string{ArchiveUser}); err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	s.launch(t)
	return s
}

// copyTree copies the directory tree src to dst (which must not exist) like
// "cp -a": regular files, directories and symbolic links, with their modes
// and modification times.
func copyTree(dst, src string) error {
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		return err
	}
	if err := relink(dst, src); err != nil {
		return err
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		return copyMeta(filepath.Join(dst, rel), info)
	})
}

// relink makes the copies in dst of files that are hard links to each
// other in src (content an archive stores once) hard links again, so that
// the server reads the archive's files as they are.
func relink(dst, src string) error {
	first := map[[2]uint64]string{}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok || st.Nlink < 2 {
			return nil
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		id := [2]uint64{uint64(st.Dev), st.Ino}
		if f, seen := first[id]; seen {
			if err := os.Remove(target); err != nil {
				return err
			}
			return os.Link(f, target)
		}
		first[id] = target
		return nil
	})
}

// copyMeta sets mode and times of target from info. Children are done after
// their directory, which does not change the directory's mtime: only
// creating, removing or renaming entries does.
func copyMeta(target string, info fs.FileInfo) error {
	if info.Mode()&fs.ModeSymlink != 0 {
		return nil
	}
	if err := os.Chmod(target, info.Mode().Perm()); err != nil {
		return err
	}
	return os.Chtimes(target, info.ModTime(), info.ModTime())
}
