package restore_test

import (
	"maps"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/mailkeep/mailkeep/internal/cyrustest"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
	"github.com/mailkeep/mailkeep/internal/servertest"
)

// The restore matrix: an archive made from Dovecot is restored into every
// other server, and an archive of each other server into Dovecot. Each
// source account holds the special-use folders (with their attributes
// where the server sets them), a small corpus with the special messages,
// the odd folder names the source accepts and the edge messages it
// accepts. On the target, every message must come back with its bytes,
// flags, keywords and INTERNALDATE (the same instant), in the folder the
// mapping says; a rerun must append nothing. What a target refuses or
// changes is asserted below as that server's behaviour, and so are the
// paths the restore took for the extensions the target lacks. These
// tables are the source of the restore columns of the server table in the
// documentation.

// restoreWant is what a restore of the matrix is known to do.
type restoreWant struct {
	paths restorePaths
	// folders: where a folder (by its name without the source's prefix,
	// "/"-separated) goes when it is not where the plain rules put it.
	folders  map[string]string
	messages map[string]string // edge message → outcome
}

var (
	allPaths = restorePaths{namespace: true, specialUse: true, createSpecialUse: true, literals: literalPlus}
	// Dovecot 2.3 has no CREATE-SPECIAL-USE: its configuration names its
	// special-use folders.
	dovecotPaths = restorePaths{namespace: true, specialUse: true, literals: literalPlus}
	// imapmemserver as IMAP4rev2: NAMESPACE and LITERAL- are implied; it
	// has no LITERAL+.
	memPaths = restorePaths{namespace: true, literals: literalMinus}
)

// TestRestoreFromDovecot restores one Dovecot-made archive into Cyrus
// (both layouts), Courier, imapmemserver (IMAP4rev2 and plain IMAP4rev1)
// and a Dovecot of Courier's layout whose special-use folders have other
// names. The source Dovecot stores folders with LAYOUT=index, so that
// its archive holds names its default layout refuses (Dotted.Name,
// .lead, ~tilde).
func TestRestoreFromDovecot(t *testing.T) {
	t.Parallel()
	src := dovecotServer(t, "Dovecot", dovecottest.Options{Users: []string{"alice"}, MailLocation: dovecottest.AnyNameLocation})
	seedAccount(t, src, "alice", 41)
	root := t.TempDir()
	backupAccount(t, src, root, "alice")

	// In the archive: 1969 kept, 2030 and 2110 replaced by the time of
	// their APPEND to the source, the bare LF made CRLF.
	edges := map[string]string{"1969 before the epoch": kept, "1971 +05:30": kept, "bare LF": kept,
		"2030 -05:00": kept, "2110 after 2106": kept}
	// Cyrus and Courier refuse dates before 1970; Cyrus replaces 8-bit
	// bytes in a header with X (munge8bit); Courier ends a message without
	// a final line end with CRLF; go-imap's server serves keywords in
	// lower case, and ends a header without a body with an empty line.
	cyrus := with(edges, "1969 before the epoch", refused, "special utf8-header", munged)
	courier := with(edges, "1969 before the epoch", refused, "special no-line-end-after-the-last-line", crlfAdded)
	mem := with(edges, "keywords", lowerKeywords, "special headers-only,-no-body-separator", crlfAdded)
	dotFolders := map[string]string{"Dotted.Name": mappingError, ".lead": mappingError}
	tests := []struct {
		name  string
		start func(t *testing.T) mserver
		want  restoreWant
	}{
		{"Cyrus, alternate namespace", func(t *testing.T) mserver { return cyrusServer(t, "Cyrus /", cyrustest.AltNamespace) },
			restoreWant{paths: allPaths, folders: map[string]string{"%41": createRefused}, messages: cyrus}},
		{"Cyrus, standard namespace", func(t *testing.T) mserver {
			return cyrusServer(t, "Cyrus INBOX.", cyrustest.StandardNamespace)
		}, restoreWant{paths: allPaths, folders: with(dotFolders, "%41", createRefused), messages: cyrus}},
		// Courier refuses the 1969 message before its literal; the client
		// then closes the connection, and the folder goes on over a new one.
		{"Courier", courierServer, restoreWant{paths: restorePaths{namespace: true, literals: literalSync, reconnects: 1},
			folders: dotFolders, messages: courier}},
		{"imapmemserver IMAP4rev2", func(t *testing.T) mserver { return memServer(t, "imapmemserver IMAP4rev2", nil) },
			restoreWant{paths: memPaths, messages: mem}},
		// Without IMAP4rev2 it still has LITERAL-.
		{"imapmemserver IMAP4rev1", func(t *testing.T) mserver {
			return memServer(t, "imapmemserver IMAP4rev1", imap.CapSet{imap.CapIMAP4rev1: {}})
		}, restoreWant{paths: restorePaths{literals: literalMinus}, messages: mem}},
		// Special-use folders named as Outlook names them, and Archiv.
		{"Dovecot, INBOX. prefix", func(t *testing.T) mserver {
			return dovecotServer(t, "Dovecot INBOX.", dovecottest.Options{Users: []string{"alice"}, Prefix: "INBOX.", Separator: ".",
				SpecialUse: map[string]string{"Sent Items": `\Sent`, "Deleted Items": `\Trash`, "Junk E-mail": `\Junk`, "Archiv": `\Archive`}})
		}, restoreWant{paths: dovecotPaths, messages: edges,
			folders: with(dotFolders, "Sent", "INBOX.Sent Items", "Trash", "INBOX.Deleted Items", "Junk", "INBOX.Junk E-mail",
				"Archive", "INBOX.Archiv", "Archive/2024", "INBOX.Archiv.2024", "~tilde", createRefused)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runRestoreCase(t, root, "alice", tc.start(t), "alice", tc.want)
		})
	}
}

// TestRestoreToDovecot restores an archive of each other server into
// Dovecot (the default Maildir++ layout: "/" separates, no prefix).
func TestRestoreToDovecot(t *testing.T) {
	t.Parallel()
	users := []string{"cyrus-alt", "cyrus-std", "courier", "mem2", "mem1"}
	dst := dovecotServer(t, "Dovecot", dovecottest.Options{Users: users})
	tests := []struct {
		user  string
		start func(t *testing.T) mserver
		want  restoreWant
	}{
		{"cyrus-alt", func(t *testing.T) mserver { return cyrusServer(t, "Cyrus /", cyrustest.AltNamespace) },
			restoreWant{folders: map[string]string{"Dotted.Name": createRefused, ".lead": createRefused, "~tilde": createRefused},
				messages: map[string]string{"1971 +05:30": kept, "2030 -05:00": appendTime, "2110 after 2106": kept}}},
		{"cyrus-std", func(t *testing.T) mserver {
			return cyrusServer(t, "Cyrus INBOX.", cyrustest.StandardNamespace)
		},
			restoreWant{folders: map[string]string{"~tilde": createRefused},
				messages: map[string]string{"1971 +05:30": kept, "2030 -05:00": appendTime, "2110 after 2106": kept}}},
		{"courier", courierServer,
			restoreWant{folders: map[string]string{"~tilde": createRefused},
				messages: map[string]string{"bare LF": kept, "1971 +05:30": kept, "2030 -05:00": appendTime, "2110 after 2106": appendTime}}},
		{"mem2", func(t *testing.T) mserver { return memServer(t, "imapmemserver IMAP4rev2", nil) },
			restoreWant{folders: map[string]string{"Dotted.Name": createRefused, ".lead": createRefused, "~tilde": createRefused,
				"a//b": mappingError},
				messages: map[string]string{"bare LF": crlf, "1969 before the epoch": kept, "1971 +05:30": kept,
					"2030 -05:00": appendTime, "2110 after 2106": appendTime}}},
		{"mem1", func(t *testing.T) mserver {
			return memServer(t, "imapmemserver IMAP4rev1", imap.CapSet{imap.CapIMAP4rev1: {}})
		},
			restoreWant{folders: map[string]string{"Dotted.Name": createRefused, ".lead": createRefused, "~tilde": createRefused,
				"a//b": mappingError},
				messages: map[string]string{"bare LF": crlf, "1969 before the epoch": kept, "1971 +05:30": kept,
					"2030 -05:00": appendTime, "2110 after 2106": appendTime}}},
	}
	for i, tc := range tests {
		t.Run(tc.user, func(t *testing.T) {
			t.Parallel()
			src := tc.start(t)
			seedAccount(t, src, "alice", int64(50+i))
			root := t.TempDir()
			backupAccount(t, src, root, "alice")
			tc.want.paths = dovecotPaths
			runRestoreCase(t, root, "alice", dst, tc.user, tc.want)
		})
	}
}

// runRestoreCase restores root/<account> into user's empty account of
// dst, checks the result against want, restores again and checks that
// nothing was appended and the target is unchanged.
func runRestoreCase(t *testing.T, root, account string, dst mserver, user string, want restoreWant) {
	t.Logf("into %s", dst.name)
	rec := servertest.RecordCommands(t, dst.addr)
	first := restoreVia(t, rec, root, account, dst, user)
	c := dst.dial(t, user)
	folders, messages := compareRestored(t, root, account, first.res, c)
	checkFolders(t, folders, want.folders, dst)
	checkOutcomes(t, messages, want.messages)
	checkPaths(t, want.paths, first)
	checkCreatedUses(t, c, first.res.Mapping)

	second := restoreVia(t, rec, root, account, dst, user)
	if r := second.res; r.Appended != 0 || r.Created != 0 || r.Failed != first.res.Failed {
		t.Errorf("rerun: %d appended, %d folders created, %d failed; want 0, 0, %d", r.Appended, r.Created, r.Failed,
			first.res.Failed)
	}
	for i, fm := range second.res.Mapping.Folders {
		if prev := first.res.Mapping.Folders[i]; fm.Target != prev.Target {
			t.Errorf("rerun: %q mapped to %q, the first run to %q", fm.Source, fm.Target, prev.Target)
		}
	}
	again, _ := compareRestored(t, root, account, second.res, c)
	checkFolders(t, again, want.folders, dst)
}

// with returns a copy of m with the given keys set to the given values.
func with(m map[string]string, kv ...string) map[string]string {
	out := maps.Clone(m)
	for i := 0; i < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}
