package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"filippo.io/age"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/config"
	"github.com/mailkeep/mailkeep/serve"
)

// ServeOptions are what "mailkeep serve" adds to the config's serve
// section. Zero values mean the section's settings.
type ServeOptions struct {
	Listen   string       // instead of serve.listen
	Accounts []string     // the accounts served; default all of the config
	AsOf     archive.AsOf // serve the state of this run; zero: the latest
	Observer serve.Observer
	// Open opens an account's Snapshot; default the archive's (see
	// serve.Options.Open).
	Open func(ctx context.Context, account string) (*archive.Snapshot, error)
}

// Server is the archive served over IMAP as the config says: listening,
// its password read, ready to serve. "mailkeep serve" runs one, and the
// agent too when the config has a serve section.
type Server struct {
	srv *serve.Server
	ln  net.Listener
}

// NewServer reads serve's password and certificate and listens. A config
// without a serve section is an error wrapping ErrConfig, as is an
// address that is not loopback without a certificate (wrapping
// serve.ErrNotLoopback too); an --as-of before an account's first run
// wraps archive.ErrNoRun.
func NewServer(ctx context.Context, cfg *config.Config, opts ServeOptions, log *slog.Logger) (*Server, error) {
	sc := cfg.Serve
	if sc == nil {
		return nil, fmt.Errorf("%w: %s has no serve section: serving needs its password (see serve: in the README)",
			ErrConfig, cfg.Path)
	}
	password, err := sc.Secret(ctx)
	if err != nil {
		return nil, err
	}
	tlsConfig, err := serveTLS(sc)
	if err != nil {
		return nil, err
	}
	accounts := opts.Accounts
	if len(accounts) == 0 {
		for _, a := range cfg.Accounts {
			accounts = append(accounts, a.Name)
		}
	}
	accounts, ids, err := servedAccounts(cfg, accounts, log)
	if err != nil {
		return nil, err
	}
	srv, err := serve.New(ctx, serve.Options{Root: cfg.Archive, Accounts: accounts, Password: password,
		AsOf: opts.AsOf, Log: log.With("serve", true), Observer: opts.Observer, Open: withIdentities(cfg, opts.Open, ids)})
	if err != nil {
		return nil, err
	}
	listen := opts.Listen
	if listen == "" {
		listen = sc.Listen
	}
	ln, err := serve.Listen(ctx, listen, tlsConfig)
	if errors.Is(err, serve.ErrNotLoopback) {
		err = fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if err != nil {
		return nil, err
	}
	return &Server{srv: srv, ln: ln}, nil
}

// servedAccounts returns the accounts that can be served, with the
// identities of the encrypted ones. An encrypted account without an
// identity_file is left out (its messages could not be read), with a
// warning; serving nothing at all is an error wrapping ErrConfig.
func servedAccounts(cfg *config.Config, names []string, log *slog.Logger) ([]string, map[string][]age.Identity, error) {
	var out []string
	ids := map[string][]age.Identity{}
	for _, name := range names {
		a, err := cfg.Account(name)
		if err != nil {
			return nil, nil, err
		}
		keys, err := ReadKeys(a)
		switch {
		case err != nil:
			return nil, nil, err
		case keys != nil && len(keys.Identities) == 0:
			log.Warn("not served: the account's archive is encrypted and it has no encryption.identity_file", "account", name)
			continue
		case keys != nil:
			ids[name] = keys.Identities
		}
		out = append(out, name)
	}
	if len(out) == 0 && len(names) > 0 {
		return nil, nil, fmt.Errorf("%w: no account to serve: each is encrypted and has no encryption.identity_file", ErrConfig)
	}
	return out, ids, nil
}

// withIdentities opens snapshots as open does (default: the archive's)
// and gives each the identities of its account.
func withIdentities(cfg *config.Config, open func(context.Context, string) (*archive.Snapshot, error),
	ids map[string][]age.Identity) func(context.Context, string) (*archive.Snapshot, error) {
	if open == nil {
		open = func(ctx context.Context, name string) (*archive.Snapshot, error) {
			return archive.OpenSnapshot(ctx, cfg.Archive, name)
		}
	}
	return func(ctx context.Context, name string) (*archive.Snapshot, error) {
		snap, err := open(ctx, name)
		if err == nil {
			snap.SetIdentities(ids[name])
		}
		return snap, err
	}
}

func serveTLS(sc *config.Serve) (*tls.Config, error) {
	if sc.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(sc.TLSCert, sc.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("serve: tls_cert and tls_key: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve serves until ctx is done.
func (s *Server) Serve(ctx context.Context) error { return s.srv.Serve(ctx, s.ln) }

// Close stops listening, for a server that never served.
func (s *Server) Close() error { return s.ln.Close() }

// runServe serves in the background until ctx is done; the function it
// returns waits for the server to stop.
func (a *Agent) runServe(ctx context.Context) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.serve.Serve(ctx); err != nil {
			a.log.Error("serve stopped", "err", err)
		}
	}()
	return func() { <-done }
}

// closeServe releases the listener of a server that will not serve.
func (a *Agent) closeServe() {
	if a.serve != nil {
		a.serve.Close()
	}
}

// serveChanged tells whether a reload changed the serve section.
func serveChanged(old, cfg *config.Config) bool {
	if (old.Serve == nil) != (cfg.Serve == nil) {
		return true
	}
	if old.Serve == nil {
		return false
	}
	a, b := *old.Serve, *cfg.Serve
	a.Line, b.Line = 0, 0
	return a != b
}
