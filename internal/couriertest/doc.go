// Package couriertest runs private Courier IMAP servers for tests.
//
// Courier's paths are compiled in (/etc/courier, /usr/lib/courier-authlib,
// /run/courier/authdaemon), so each [Server] runs in new mount and PID
// namespaces of its own, as root: its mount namespace lays the unpacked
// packages over /usr, an overlay with its own courier/ files (userdb,
// authdaemonrc) over /etc, and a tmpfs over /run. The host sees none of
// this. Inside, a shell script builds the userdb (makeuserdb), starts
// gam_server and authdaemond (authuserdb), then becomes couriertcpd, which
// serves imaplogin and imapd on a free loopback port with the settings of
// Debian's /etc/courier/imapd.
//
// The script is the init of its PID namespace: when it dies the kernel
// kills everything inside, so killing it at test cleanup, or the kernel
// killing it when the test binary dies (parent-death signal), leaves no
// process behind.
//
// gam_server (gamin) runs beside imapd under a GAM_CLIENT_ID of its own;
// without it every LOGIN, SELECT, CREATE and APPEND waits about 1.2 s.
// Debian's IMAP_EMPTYTRASH=Trash:7 is turned off: messages in Trash are
// never purged behind a test's back. A failed LOGIN still takes 5 s (it
// is compiled in).
//
// Folders are under "INBOX." with "." as hierarchy separator; "/" is
// refused in names, and so are names outside INBOX. Keywords are on
// (IMAP_KEYWORDS=1). Courier has no CONDSTORE, LIST-STATUS or ESEARCH.
// Users log in with LOGIN; the password of user u is "secret-"+u; their
// mail processes run as the "mail" user.
//
// Courier comes from Debian's packages (courier-imap, courier-base,
// courier-authlib and more) unpacked into a directory, because they cannot
// be installed beside dovecot-imapd. scripts/test-servers.sh unpacks them
// into /opt/mailkeep-test/courier; the environment variable
// MAILKEEP_COURIER_ROOT names another place. Without them, or without
// root, the tests fail; they never skip.
//
// The package is meant for _test.go files only; it needs Linux.
package couriertest
