package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/mailkeep/mailkeep/archive"
)

// DefaultListen is the address served when none is configured.
const DefaultListen = "127.0.0.1:1143"

// ErrNotLoopback reports a listen address that is not loopback, without
// TLS: the password would cross the network in clear text.
var ErrNotLoopback = errors.New("not a loopback address")

// Observer learns about sessions and logins (the agent's metrics).
type Observer interface {
	SessionOpened()
	SessionClosed()
	Login(ok bool)
}

// Options configure a Server. Zero values mean the defaults.
type Options struct {
	Root     string       // the archive directory
	Accounts []string     // the accounts served; each logs in with its name
	Password string       // the one password of every account (required)
	AsOf     archive.AsOf // serve each account as of this run; zero: the latest state
	Log      *slog.Logger
	Observer Observer
	// LoginDelay is how long a refused login waits before its answer;
	// default 2 s.
	LoginDelay time.Duration
	// MaxSessions bounds the connections served at once; default 100.
	MaxSessions int
	// Open opens an account's Snapshot, once per session; default
	// archive.OpenSnapshot under Root. serve --from opens a replica's.
	Open func(ctx context.Context, account string) (*archive.Snapshot, error)
}

// Server serves the archive of some accounts over IMAP, read-only.
type Server struct {
	opts     Options
	log      *slog.Logger
	runs     map[string]int64 // the run each account is served as of; 0: latest; -1: resolved at login
	sessions chan struct{}    // a slot per open session
	// refused makes refused logins wait one after another, so that
	// guessing passwords on many connections at once is no faster than
	// on one.
	refused sync.Mutex
}

// New prepares a server. With Options.AsOf it resolves the run of each
// account that has an archive: an --as-of before an account's first run
// is an error wrapping archive.ErrNoRun.
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.Password == "" {
		return nil, errors.New("serve: no password")
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.LoginDelay == 0 {
		opts.LoginDelay = 2 * time.Second
	}
	if opts.MaxSessions == 0 {
		opts.MaxSessions = 100
	}
	if opts.Open == nil {
		opts.Open = func(ctx context.Context, name string) (*archive.Snapshot, error) {
			return archive.OpenSnapshot(ctx, opts.Root, name)
		}
	}
	s := &Server{opts: opts, log: opts.Log, runs: map[string]int64{}, sessions: make(chan struct{}, opts.MaxSessions)}
	for _, name := range opts.Accounts {
		run, err := s.resolve(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("account %q: %w", name, err)
		}
		s.runs[name] = run
	}
	return s, nil
}

// resolve finds the run that Options.AsOf names in an account's archive.
func (s *Server) resolve(ctx context.Context, name string) (int64, error) {
	if s.opts.AsOf.IsZero() {
		return 0, nil
	}
	snap, err := s.opts.Open(ctx, name)
	if errors.Is(err, archive.ErrNoArchive) {
		s.log.Warn("the account has no archive yet: it cannot be served as of a run", "account", name)
		return -1, nil
	}
	if err != nil {
		return 0, err
	}
	defer snap.Close()
	run, err := snap.Resolve(ctx, s.opts.AsOf)
	return run.ID, err
}

// Listen opens addr for the server: with tlsConfig, TLS from the first
// byte (as IMAPS); without, addr must be a loopback address, else the
// error wraps ErrNotLoopback and says why.
func Listen(ctx context.Context, addr string, tlsConfig *tls.Config) (net.Listener, error) {
	if tlsConfig == nil {
		if err := checkLoopback(ctx, addr); err != nil {
			return nil, err
		}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	return ln, nil
}

func checkLoopback(ctx context.Context, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("serve: listen address %q: %w", addr, err)
	}
	why := fmt.Errorf("serve: listen address %q is %w: without tls_cert and tls_key the password "+
		"would cross the network in clear text; listen on 127.0.0.1 or set a certificate", addr, ErrNotLoopback)
	if host == "" {
		return why
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil {
		if ip.IsLoopback() {
			return nil
		}
		return why
	}
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil || len(ips) == 0 || slices.ContainsFunc(ips, func(ip net.IPAddr) bool { return !ip.IP.IsLoopback() }) {
		return why
	}
	return nil
}

// Serve serves IMAP on ln until ctx is done, then closes ln and every
// session. It returns nil after a cancellation.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := imapserver.New(&imapserver.Options{
		NewSession:   s.newSession,
		Caps:         capabilities,
		Logger:       slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		InsecureAuth: true, // Listen allows clear text on loopback only
	})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	s.log.Info("serving the archive over IMAP, read-only", "addr", ln.Addr().String(), "accounts", s.opts.Accounts)
	select {
	case err := <-done:
		srv.Close()
		return err
	case <-ctx.Done():
		srv.Close()
		<-done
		return nil
	}
}

// capabilities are what the server announces, beyond what go-imap adds
// itself (IDLE, UNSELECT, ENABLE, LITERAL-...).
var capabilities = imap.CapSet{
	imap.CapIMAP4rev1:    {},
	imap.CapNamespace:    {},
	imap.CapChildren:     {},
	imap.CapListExtended: {},
	imap.CapListStatus:   {},
	imap.CapESearch:      {},
	imap.CapStatusSize:   {},
	imap.CapLiteralPlus:  {},
}

var errTooMany = &imap.Error{Type: imap.StatusResponseTypeBye, Text: "Too many connections, try again later"}

func (s *Server) newSession(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
	select {
	case s.sessions <- struct{}{}:
	default:
		return nil, nil, errTooMany
	}
	if s.opts.Observer != nil {
		s.opts.Observer.SessionOpened()
	}
	// go-imap sets read deadlines once it has greeted the client; this one
	// bounds the TLS handshake before, which reads first.
	c.NetConn().SetReadDeadline(time.Now().Add(handshakeTimeout))
	return newSession(s, c), nil, nil
}

// handshakeTimeout is how long a client has to complete TLS.
const handshakeTimeout = 30 * time.Second

// sessionClosed frees a session's slot.
func (s *Server) sessionClosed() {
	<-s.sessions
	if s.opts.Observer != nil {
		s.opts.Observer.SessionClosed()
	}
}
