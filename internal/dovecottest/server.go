package dovecottest

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// DefaultUsers are the accounts of a Server started without Options.Users.
var DefaultUsers = []string{"alice", "bob", "carol"}

// defaultMailLocation is Maildir++ in each user's home; with the namespace's
// "/" separator, folder "a/b" is stored as ~/Maildir/.a.b.
const defaultMailLocation = "maildir:~/Maildir"

// AnyNameLocation is a mail_location under which Dovecot accepts folder
// names that the default Maildir++ layout refuses ("a.b": NO [CANNOT]) or
// LAYOUT=fs refuses ("cur", "new", "tmp" as any component), for tests of
// hostile folder names on the server side.
const AnyNameLocation = "maildir:~/Maildir:LAYOUT=index"

// Options configure Start. The zero value is a plain-TCP server for
// DefaultUsers.
type Options struct {
	// Users are the accounts; the password of user u is "secret-"+u.
	Users []string
	// TLS adds implicit-TLS listeners (IMAPS, POP3S) and offers STARTTLS on
	// the plain ones, with a self-signed certificate for 127.0.0.1 and
	// localhost written to Server.CACert.
	TLS bool
	// MailLocation overrides mail_location ("maildir:~/Maildir" when
	// empty); %h, %u and ~ are expanded by Dovecot and by Server.MailDir.
	MailLocation string
	// Prefix and Separator are the personal namespace's: "INBOX." and "."
	// give the layout of Courier and of Cyrus's standard namespace, every
	// folder below INBOX. Empty: no prefix, separator "/".
	Prefix, Separator string
	// SpecialUse gives folders, by name below Prefix, a special-use
	// attribute (`\Sent`); Dovecot creates them at a user's first login.
	// Nil: Drafts, Sent and Trash carry theirs, and are not created.
	SpecialUse map[string]string
	// OAuth2IntrospectionURL, if set, adds the SASL mechanisms XOAUTH2 and
	// OAUTHBEARER, checked by an oauth2 passdb that POSTs each token to
	// this URL (RFC 7662; see internal/oauthtest). Passwords keep working
	// for PLAIN and LOGIN, and the per-IP penalty after failed logins is
	// off, so refused tokens do not slow the tests down.
	OAuth2IntrospectionURL string
}

// Server is a running private Dovecot.
type Server struct {
	Dir                  string // temporary directory holding everything
	IMAPAddr, POP3Addr   string // plain-TCP listeners, 127.0.0.1:port
	IMAPSAddr, POP3SAddr string // implicit-TLS listeners when Options.TLS
	CACert               string // PEM certificate to trust when Options.TLS
	Prefix               string // personal namespace prefix: "" or Options.Prefix
	Delim                rune   // hierarchy separator: '/' or Options.Separator

	separator  string
	specialUse []specialFolder

	sys          sysUsers
	mailLocation string
	tls          bool
	oauth2       string // introspection URL; "" = no oauth2 passdb
}

// Start launches a Dovecot serving IMAP and POP3 for opts.Users on free
// loopback ports, waits until it accepts connections and stops it at test
// cleanup. It fails the test, never skips it, when Dovecot is missing.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := newServer(t)
	users := opts.Users
	if len(users) == 0 {
		users = DefaultUsers
	}
	s.mailLocation, s.tls, s.oauth2 = opts.MailLocation, opts.TLS, opts.OAuth2IntrospectionURL
	if s.mailLocation == "" {
		s.mailLocation = defaultMailLocation
	}
	if opts.Separator != "" {
		s.separator, s.Delim = opts.Separator, []rune(opts.Separator)[0]
	}
	s.Prefix = opts.Prefix
	if opts.SpecialUse != nil {
		s.specialUse = nil
		for _, name := range slices.Sorted(maps.Keys(opts.SpecialUse)) {
			s.specialUse = append(s.specialUse, specialFolder{name, opts.SpecialUse[name], true})
		}
	}
	if err := s.prepare(users); err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	s.launch(t)
	return s
}

// newServer checks for the dovecot binary and creates the server's
// directory, removed at cleanup.
func newServer(t testing.TB) *Server {
	t.Helper()
	if _, err := dovecotBinary(); err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	sys, err := lookupSysUsers()
	if err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	dir, err := makeDir()
	if err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return &Server{Dir: dir, sys: sys, Delim: '/', separator: "/", specialUse: defaultSpecialUse}
}

// makeDir creates the server directory. Unix socket paths are limited to
// 108 bytes, so it falls back to /tmp when TMPDIR is a long path.
func makeDir() (string, error) {
	base := os.TempDir()
	if len(base) > 40 {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "dovecottest-")
	if err != nil {
		return "", err
	}
	return dir, os.Chmod(dir, 0o755) // Dovecot's users must traverse it
}

// prepare writes the accounts, their homes and, with TLS, the certificate.
func (s *Server) prepare(users []string) error {
	for _, u := range users {
		if err := s.sys.mkdirMail(s.home(u)); err != nil {
			return err
		}
	}
	if err := writePasswd(s.Dir, s.sys, users, s.home); err != nil {
		return err
	}
	if s.oauth2 != "" {
		if err := writeOAuth2(s.Dir, s.oauth2); err != nil {
			return err
		}
	}
	if !s.tls {
		return nil
	}
	var err error
	s.CACert, err = writeCert(filepath.Join(s.Dir, "ssl"))
	return err
}

func (s *Server) home(user string) string { return filepath.Join(s.Dir, "home", user) }

// launch starts the master, retrying with new ports when one was taken in
// the meantime, and registers its stop at cleanup.
func (s *Server) launch(t testing.TB) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		m, err := s.tryLaunch()
		if err == nil {
			t.Cleanup(func() { s.stop(t, m) })
			return
		}
		if !errors.Is(err, errAddrInUse) || attempt == 3 {
			t.Fatalf("dovecottest: %v", err)
		}
	}
}

func (s *Server) tryLaunch() (*master, error) {
	cfg, err := s.config()
	if err != nil {
		return nil, err
	}
	conf, err := writeConfig(cfg)
	if err != nil {
		return nil, err
	}
	os.Remove(s.logPath())
	m, err := startMaster(conf, filepath.Join(s.Dir, "stderr.log"))
	if err != nil {
		return nil, err
	}
	if err := m.waitListening(s.logPath(), s.addrs()...); err != nil {
		m.stop()
		return nil, err
	}
	return m, nil
}

// config picks fresh ports and sets the listener addresses to match.
func (s *Server) config() (config, error) {
	ports, err := pickPorts(4)
	if err != nil {
		return config{}, err
	}
	s.IMAPAddr, s.POP3Addr = hostPort(ports[0]), hostPort(ports[1])
	if s.tls {
		s.IMAPSAddr, s.POP3SAddr = hostPort(ports[2]), hostPort(ports[3])
	}
	return config{
		Instance: filepath.Base(s.Dir), Dir: s.Dir, RunDir: filepath.Join(s.Dir, "run"),
		Sys: s.sys, MailLocation: s.mailLocation, TLS: s.tls,
		IMAPPort: ports[0], POP3Port: ports[1], IMAPSPort: ports[2], POP3SPort: ports[3],
		OAuth2: s.oauth2 != "", Prefix: s.Prefix, Separator: s.separator, SpecialUse: s.specialUse,
	}, nil
}

// pickPorts chooses listener ports; tests replace it to provoke conflicts.
var pickPorts = freePorts

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

func (s *Server) addrs() []string {
	a := []string{s.IMAPAddr, s.POP3Addr}
	if s.tls {
		a = append(a, s.IMAPSAddr, s.POP3SAddr)
	}
	return a
}

func (s *Server) stop(t testing.TB, m *master) {
	if err := m.stop(); err != nil {
		t.Errorf("dovecottest: %v", err)
	}
}

func (s *Server) logPath() string { return filepath.Join(s.Dir, "dovecot.log") }

// Password returns the password of user.
func (s *Server) Password(user string) string { return password(user) }

// MailDir returns the root of user's Maildir on disk.
func (s *Server) MailDir(user string) string {
	loc := s.mailLocation
	if i := strings.Index(loc, ":"); i >= 0 {
		loc = loc[i+1:]
	}
	path, _, _ := strings.Cut(loc, ":")
	home := s.home(user)
	path = strings.NewReplacer("%h", home, "%u", user, "%n", user).Replace(path)
	if rest, ok := strings.CutPrefix(path, "~"); ok {
		path = home + rest
	}
	return path
}

// LogTail returns the last n lines of Dovecot's log and of its standard
// error, for test failure messages.
func (s *Server) LogTail(n int) string {
	log, _ := os.ReadFile(s.logPath())
	stderr, _ := os.ReadFile(filepath.Join(s.Dir, "stderr.log"))
	return tail(string(log)+string(stderr), n)
}

// String describes the server for test logs.
func (s *Server) String() string {
	return fmt.Sprintf("dovecot in %s (imap %s, pop3 %s)", s.Dir, s.IMAPAddr, s.POP3Addr)
}
