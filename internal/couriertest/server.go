package couriertest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/internal/servertest"
)

// DefaultUsers are the accounts of a Server started without Options.Users.
var DefaultUsers = []string{"alice", "bob", "carol"}

// Options configure Start. The zero value serves DefaultUsers.
type Options struct {
	// Users are the accounts; the password of user u is "secret-"+u.
	Users []string
}

// Server is a running private Courier IMAP.
type Server struct {
	Dir      string // temporary directory holding everything
	IMAPAddr string // 127.0.0.1:port
	Delim    rune   // hierarchy separator: '.'
	Prefix   string // personal namespace prefix: "INBOX."
	Version  string // Debian version of the courier-imap package

	root  string
	cfg   config
	sys   servertest.SysUser
	users []string
	proc  *servertest.Process
}

const (
	startTimeout = 15 * time.Second
	stopTimeout  = 10 * time.Second
)

// binaries are the programs a Server runs, relative to the unpacked root.
var binaries = []string{"usr/sbin/couriertcpd", "usr/bin/imapd", "usr/lib/courier/courier/imaplogin",
	"usr/lib/courier/courier-authlib/authdaemond", "usr/sbin/makeuserdb", "usr/libexec/gam_server",
	"etc/courier/imapd"}

// Start launches a Courier serving IMAP for opts.Users on a free loopback
// port, waits until it listens and stops it at test cleanup. It fails the
// test, never skips it, when Courier is missing or the test binary does not
// run as root.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	root, err := servertest.UnpackedRoot("MAILKEEP_COURIER_ROOT", "/opt/mailkeep-test/courier", binaries...)
	if err != nil {
		t.Fatalf("couriertest: %v", err)
	}
	sys, err := servertest.LookupSysUser()
	if err != nil {
		t.Fatalf("couriertest: %v", err)
	}
	if !sys.Root {
		t.Fatalf("couriertest: Courier runs in mount and PID namespaces of its own, which takes root " +
			"(the tests run as root in CI)")
	}
	dir := servertest.MakeDir(t, "couriertest-")
	s := &Server{Dir: dir, Delim: '.', Prefix: "INBOX.", root: root, sys: sys,
		Version: servertest.PackageVersion(root, "courier-imap"),
		cfg:     config{Dir: dir, Root: root, Instance: filepath.Base(dir)}}
	users := opts.Users
	if len(users) == 0 {
		users = DefaultUsers
	}
	if err := s.prepare(users); err != nil {
		t.Fatalf("couriertest: %v", err)
	}
	s.launch(t)
	return s
}

// prepare makes each user's Maildir, owned by the mail user.
func (s *Server) prepare(users []string) error {
	for _, u := range users {
		if err := os.MkdirAll(s.home(u), 0o755); err != nil {
			return err
		}
		for _, sub := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(s.home(u), "Maildir", sub), 0o700); err != nil {
				return err
			}
		}
		if err := s.sys.ChownTree(s.home(u)); err != nil {
			return err
		}
	}
	s.users = users
	return nil
}

func (s *Server) home(user string) string { return filepath.Join(s.Dir, "home", user) }

// launch starts the namespace's init, retrying with a new port when
// another process took it in the meantime, and registers its stop at
// cleanup.
func (s *Server) launch(t testing.TB) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		p, err := s.tryLaunch()
		if err == nil {
			s.proc = p
			t.Cleanup(func() {
				if err := p.Stop(stopTimeout); err != nil {
					t.Errorf("couriertest: %v", err)
				}
			})
			return
		}
		if !s.portTaken(err) || attempt == 3 {
			t.Fatalf("couriertest: %v\n%s", err, s.LogTail(20))
		}
	}
}

func (s *Server) portTaken(err error) bool {
	if errors.Is(err, servertest.ErrPortTaken) {
		return true
	}
	return errors.Is(err, servertest.ErrExited) && strings.Contains(s.LogTail(5), "in use")
}

func (s *Server) tryLaunch() (*servertest.Process, error) {
	ports, err := servertest.FreePorts(1)
	if err != nil {
		return nil, err
	}
	s.cfg.Port, s.IMAPAddr = ports[0], servertest.HostPort(ports[0])
	if err := writeFiles(s.cfg, s.sys, s.users, s.home); err != nil {
		return nil, err
	}
	log, err := os.Create(s.logPath())
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command("/bin/sh", filepath.Join(s.Dir, "start.sh"))
	cmd.Dir, cmd.Stdout, cmd.Stderr = s.Dir, log, log
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID}
	p, err := servertest.Start(cmd, syscall.SIGKILL)
	if err != nil {
		return nil, err
	}
	if err := p.WaitListening(startTimeout, s.IMAPAddr); err != nil {
		p.Stop(stopTimeout)
		return nil, err
	}
	return p, nil
}

func (s *Server) logPath() string { return filepath.Join(s.Dir, "courier.log") }

// Password returns the password of user.
func (s *Server) Password(user string) string { return servertest.Password(user) }

// Dial returns an IMAP client logged in as user. It is logged out and
// closed at test cleanup.
func (s *Server) Dial(t testing.TB, user string) *imapclient.Client {
	t.Helper()
	return servertest.Dial(t, s.IMAPAddr, user, s.Password(user), func() string { return s.LogTail(20) })
}

// Folder returns the server's name of a personal folder given with "/"
// as separator: "Archive/2024" is "INBOX.Archive.2024". INBOX stays INBOX.
func (s *Server) Folder(name string) string { return servertest.FolderName(name, s.Prefix, s.Delim) }

// MailDir returns the root of user's Maildir on disk.
func (s *Server) MailDir(user string) string { return filepath.Join(s.home(user), "Maildir") }

// LogTail returns the last n lines of the log of couriertcpd, imapd and
// the start script, then of authdaemond.
func (s *Server) LogTail(n int) string {
	var all strings.Builder
	for _, name := range []string{"courier.log", "authdaemond.log"} {
		b, _ := os.ReadFile(filepath.Join(s.Dir, name))
		all.Write(b)
	}
	return servertest.Tail(all.String(), n)
}

// String describes the server for test logs.
func (s *Server) String() string {
	return fmt.Sprintf("courier %s in %s (imap %s)", s.Version, s.Dir, s.IMAPAddr)
}
