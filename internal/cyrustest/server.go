package cyrustest

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

// Layout is how a Server names folders.
type Layout int

const (
	// AltNamespace: "unixhierarchysep: yes" and "altnamespace: yes".
	// Folders are "Sent", "Archive/2024"; "." is an ordinary character.
	AltNamespace Layout = iota
	// StandardNamespace: "unixhierarchysep: no" and "altnamespace: no", as
	// Debian's imapd.conf sets them. Folders are "INBOX.Sent",
	// "INBOX.Archive.2024"; "/" is refused in names, and names outside
	// INBOX. are refused ("Permission denied").
	StandardNamespace
)

// Options configure Start. The zero value serves DefaultUsers in the
// alternate namespace.
type Options struct {
	// Users are the accounts; the password of user u is "secret-"+u.
	Users  []string
	Layout Layout
}

// Server is a running private Cyrus IMAP.
type Server struct {
	Dir      string // temporary directory holding everything
	IMAPAddr string // 127.0.0.1:port
	Delim    rune   // hierarchy separator: '/' or '.'
	Prefix   string // personal namespace prefix: "" or "INBOX."
	Version  string // Debian version of the cyrus-imapd package

	root string
	cfg  config
	sys  servertest.SysUser
	proc *servertest.Process
}

const (
	startTimeout = 15 * time.Second
	stopTimeout  = 10 * time.Second
)

// binaries are the programs a Server runs, relative to the unpacked root.
var binaries = []string{"usr/lib/cyrus/bin/master", "usr/lib/cyrus/bin/imapd",
	"usr/lib/cyrus/bin/ctl_cyrusdb", "usr/sbin/saslpasswd2"}

// Start launches a Cyrus serving IMAP for opts.Users on a free loopback
// port, waits until it listens and stops it at test cleanup. It fails the
// test, never skips it, when Cyrus is missing.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	root, err := servertest.UnpackedRoot("MAILKEEP_CYRUS_ROOT", "/opt/mailkeep-test/cyrus", binaries...)
	if err != nil {
		t.Fatalf("cyrustest: %v", err)
	}
	sys, err := servertest.LookupSysUser()
	if err != nil {
		t.Fatalf("cyrustest: %v", err)
	}
	dir := servertest.MakeDir(t, "cyrustest-")
	s := &Server{Dir: dir, root: root, sys: sys, Delim: '/', Version: servertest.PackageVersion(root, "cyrus-imapd")}
	s.cfg = config{Dir: dir, Root: root, ServerName: filepath.Base(dir), User: sys.Name, AltNS: opts.Layout == AltNamespace}
	if !s.cfg.AltNS {
		s.Delim, s.Prefix = '.', "INBOX."
	}
	users := opts.Users
	if len(users) == 0 {
		users = DefaultUsers
	}
	if err := s.prepare(users); err != nil {
		t.Fatalf("cyrustest: %v", err)
	}
	s.launch(t)
	return s
}

// prepare makes the directories and the password database.
func (s *Server) prepare(users []string) error {
	for _, d := range []string{"conf", "spool", "run/proc", "run/lock"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, d), 0o755); err != nil {
			return err
		}
	}
	for _, u := range users {
		if err := s.addUser(u); err != nil {
			return err
		}
	}
	return s.sys.ChownTree(s.Dir)
}

// addUser writes user into the sasldb. The SASL realm is the server name.
func (s *Server) addUser(user string) error {
	cmd := exec.Command(filepath.Join(s.root, "usr/sbin/saslpasswd2"), "-f", filepath.Join(s.Dir, "sasldb2"),
		"-u", s.cfg.ServerName, "-p", "-c", user)
	cmd.Env = s.env()
	cmd.Stdin = strings.NewReader(s.Password(user))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("saslpasswd2 %s: %v: %s", user, err, out)
	}
	return nil
}

func (s *Server) env() []string {
	return append(os.Environ(), "LD_LIBRARY_PATH="+servertest.LibraryPath(s.root))
}

// launch starts the master, retrying with a new port when another process
// took it in the meantime, and registers its stop at cleanup.
func (s *Server) launch(t testing.TB) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		p, err := s.tryLaunch()
		if err == nil {
			s.proc = p
			t.Cleanup(func() {
				if err := p.Stop(stopTimeout); err != nil {
					t.Errorf("cyrustest: %v", err)
				}
			})
			return
		}
		if !errors.Is(err, servertest.ErrPortTaken) || attempt == 3 {
			t.Fatalf("cyrustest: %v\n%s", err, s.LogTail(20))
		}
	}
}

func (s *Server) tryLaunch() (*servertest.Process, error) {
	ports, err := servertest.FreePorts(1)
	if err != nil {
		return nil, err
	}
	s.cfg.Port, s.IMAPAddr = ports[0], servertest.HostPort(ports[0])
	if err := writeConfig(s.cfg); err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(s.root, "usr/lib/cyrus/bin/master"),
		"-C", filepath.Join(s.Dir, "imapd.conf"), "-M", filepath.Join(s.Dir, "cyrus.conf"),
		"-p", filepath.Join(s.Dir, "run/master.pid"), "-L", s.logPath())
	cmd.Dir, cmd.Env = s.Dir, s.env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.sys.Credential()}
	// SIGTERM when the test binary dies: the master then stops its children.
	p, err := servertest.Start(cmd, syscall.SIGTERM)
	if err != nil {
		return nil, err
	}
	if err := p.WaitListening(startTimeout, s.IMAPAddr); err != nil {
		p.Stop(stopTimeout)
		return nil, err
	}
	return p, nil
}

func (s *Server) logPath() string { return filepath.Join(s.Dir, "master.log") }

// Password returns the password of user.
func (s *Server) Password(user string) string { return servertest.Password(user) }

// Dial returns an IMAP client logged in as user. It is logged out and
// closed at test cleanup.
func (s *Server) Dial(t testing.TB, user string) *imapclient.Client {
	t.Helper()
	return servertest.Dial(t, s.IMAPAddr, user, s.Password(user), func() string { return s.LogTail(20) })
}

// Folder returns the server's name of a personal folder given with "/"
// as separator: "Archive/2024" is "INBOX.Archive.2024" in the standard
// namespace. INBOX stays INBOX.
func (s *Server) Folder(name string) string {
	return servertest.FolderName(name, s.Prefix, s.Delim)
}

// LogTail returns the last n lines of what the master wrote to its
// standard output and error; Cyrus logs everything else to syslog.
func (s *Server) LogTail(n int) string {
	b, _ := os.ReadFile(s.logPath())
	return servertest.Tail(string(b), n)
}

// String describes the server for test logs.
func (s *Server) String() string {
	return fmt.Sprintf("cyrus %s in %s (imap %s, delimiter %q, prefix %q)", s.Version, s.Dir, s.IMAPAddr, s.Delim, s.Prefix)
}
