// Package dovecottest runs private Dovecot servers for tests.
//
// Each [Server] is a Dovecot master process started in the foreground as a
// child of the test binary, with its own configuration, run directory, state
// directory, log, passwd-file accounts and mail tree under one temporary
// directory, listening on free loopback ports. Many may run at once. A
// Server is stopped at test cleanup, and the kernel stops it if the test
// binary dies first (Linux parent-death signal).
//
// [Start] serves empty mailboxes for test accounts over IMAP and POP3
// (optionally with implicit TLS and STARTTLS). [ServeArchive] serves a copy of
// a mailkeep archive mail tree the way the documentation tells users to serve
// it, so tests can check that Dovecot reads what mailkeep wrote.
//
// When the test binary runs as root, Dovecot's mail processes run as the
// "mail" user and its internal and login processes as "dovecot" and
// "dovenull", as in a packaged installation. Otherwise every process runs as
// the current user. The dovecot binary must be installed (Debian:
// dovecot-imapd and dovecot-pop3d); without it the tests fail, they never
// skip.
//
// The package is meant for _test.go files and benchmarks only.
package dovecottest
