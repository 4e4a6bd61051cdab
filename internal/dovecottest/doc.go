// Package dovecottest runs private Dovecot servers for tests.
//
// Each [Server] is a Dovecot master process started in the foreground
// ("dovecot -F") as a child of the test binary, with its own configuration,
// run directory, state directory, log, passwd-file accounts and mail tree
// under one temporary directory, listening on free loopback ports. Many may
// run at once. At test cleanup the whole Dovecot process group is killed
// (tests have no use for a graceful shutdown) and the directory removed; if
// the test binary dies first, the kernel sends the master SIGTERM (Linux
// parent-death signal) and it stops its children.
//
// [Start] serves empty mailboxes for test accounts over IMAP and POP3,
// optionally with implicit TLS and STARTTLS. [ServeArchive] serves a copy
// of a mailkeep archive mail tree the way the documentation tells users to,
// so tests can check that Dovecot reads what mailkeep wrote.
//
// With Options.OAuth2IntrospectionURL, [Start] also accepts XOAUTH2 and
// OAUTHBEARER logins, checked by Dovecot's oauth2 passdb against a token
// service such as internal/oauthtest.
//
// The configuration, common to both: plaintext login allowed on loopback,
// no authentication failure delay, mail_plugins with zlib (compressed
// Maildir files are read transparently), mail_max_userip_connections = 100,
// pop3_uidl_format = %08Xu%08Xv, one namespace with separator "/" in which
// Drafts, Sent and Trash carry their special-use attributes (Options.Prefix,
// Separator and SpecialUse change the namespace), and no statistics
// service. Dovecot 2.3 advertises CONDSTORE and QRESYNC (and
// UIDPLUS, LITERAL+, MOVE, SPECIAL-USE, ...) after login, not in its
// greeting.
//
// When the test binary runs as root, Dovecot's mail processes run as the
// "mail" user and its internal and login processes as "dovecot" and
// "dovenull", as in a packaged installation. Otherwise every process runs
// as the current user, without chroot. The dovecot binary must be installed
// (Debian: dovecot-imapd and dovecot-pop3d); without it the tests fail,
// they never skip.
//
// The package is meant for _test.go files and benchmarks only.
package dovecottest
