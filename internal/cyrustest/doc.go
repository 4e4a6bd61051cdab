// Package cyrustest runs private Cyrus IMAP servers for tests.
//
// Each [Server] is a Cyrus master process ("master -C imapd.conf -M
// cyrus.conf") started as a child of the test binary, with its own
// configuration, databases, mail partition, SASL password database and
// sockets under one temporary directory, serving IMAP on a free loopback
// port. Many may run at once. At test cleanup the master's process group is
// killed and the directory removed; if the test binary dies first, the
// kernel sends the master SIGTERM and it stops its children.
//
// Cyrus comes from Debian's packages (cyrus-imapd, cyrus-common and their
// libraries) unpacked into a directory, because they cannot be installed
// beside dovecot-imapd. scripts/test-servers.sh unpacks them into
// /opt/mailkeep-test/cyrus; the environment variable MAILKEEP_CYRUS_ROOT
// names another place. Without them the tests fail; they never skip.
//
// Two [Layout]s are offered: the alternate namespace with "/" as the
// hierarchy separator (Cyrus 3's built-in default), and the standard
// namespace with "." and every personal folder under "INBOX." (what
// Debian's packaged imapd.conf sets). Logins are plaintext (LOGIN and
// AUTH=PLAIN) against a sasldb; the password of user u is "secret-"+u.
// Failed logins are not delayed. Cyrus advertises CONDSTORE, QRESYNC,
// LIST-STATUS, ESEARCH, UIDPLUS, LITERAL+, SPECIAL-USE and more after login.
//
// When the test binary runs as root, Cyrus runs as the "mail" user, as a
// packaged installation runs as "cyrus"; otherwise as the current user.
// Cyrus logs only to syslog: without /dev/log its messages are lost.
//
// The package is meant for _test.go files only; it needs Linux.
package cyrustest
