package backup_test

import (
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/mailkeep/mailkeep/internal/couriertest"
	"github.com/mailkeep/mailkeep/internal/cyrustest"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
	"github.com/mailkeep/mailkeep/internal/memservertest"
)

// The backup matrix: every server backs up an account seeded with the hard
// cases (a small corpus with the special messages, odd folder names, and
// edge messages), and the archive must equal what the server serves,
// message by message. What a server refuses or changes while it is seeded
// is asserted below as that server's behaviour, never skipped; these
// tables are the source of the server table in the documentation.

// TestCyrusBackup runs the matrix on Cyrus IMAP 3.6 in both layouts.
// Cyrus has CONDSTORE, LIST-STATUS and ESEARCH: an unchanged folder is
// not even opened, flag changes come with CHANGEDSINCE.
func TestCyrusBackup(t *testing.T) {
	t.Parallel()
	t.Run("alt namespace", func(t *testing.T) {
		t.Parallel()
		s := cyrustest.Start(t, cyrustest.Options{Layout: cyrustest.AltNamespace})
		runMatrix(t, matrixServer{s.String(), s.IMAPAddr, s.Password, s.Dial, s.Prefix, s.Delim}, expectation{
			paths: allExtensions,
			folders: map[string]string{
				"other separator inside": kept, "doubled separator": "listed as a/b",
				"trailing separator": "listed as Trailing", "leading dot": kept, "leading tilde": kept,
				"percent": refused, "Maildir word": kept, "space": kept, "brackets": kept, "wildcard": kept,
			},
			messages: map[string]string{
				"bare LF": refused, "1971 +05:30": keptUTC, "1969 before the epoch": refused,
				"2030 -05:00": keptUTC, "2110 after 2106": "served as 1973-11-25T02:31:44Z",
			},
		})
	})
	t.Run("standard namespace", func(t *testing.T) {
		t.Parallel()
		s := cyrustest.Start(t, cyrustest.Options{Layout: cyrustest.StandardNamespace})
		runMatrix(t, matrixServer{s.String(), s.IMAPAddr, s.Password, s.Dial, s.Prefix, s.Delim}, expectation{
			paths: allExtensions,
			folders: map[string]string{
				"other separator inside": refused, "doubled separator": "listed as INBOX.a.b",
				"trailing separator": "listed as INBOX.Trailing", "leading dot": "listed as INBOX.lead",
				"leading tilde": kept, "percent": refused, "Maildir word": kept, "space": kept,
				"brackets": kept, "wildcard": kept,
			},
			messages: map[string]string{
				"bare LF": refused, "1971 +05:30": keptUTC, "1969 before the epoch": refused,
				"2030 -05:00": keptUTC, "2110 after 2106": "served as 1973-11-25T02:31:44Z",
			},
		})
	})
}

// TestCourierBackup runs the matrix on Courier IMAP 5.0: no CONDSTORE, no
// LIST-STATUS, no ESEARCH, so every run opens every folder and compares
// the flags of all its messages.
func TestCourierBackup(t *testing.T) {
	t.Parallel()
	s := couriertest.Start(t, couriertest.Options{})
	runMatrix(t, matrixServer{s.String(), s.IMAPAddr, s.Password, s.Dial, s.Prefix, s.Delim}, expectation{
		paths: noExtensions,
		folders: map[string]string{
			"other separator inside": refused, "doubled separator": refused,
			"trailing separator": notListed, "leading dot": refused, "leading tilde": kept,
			"percent": kept, "Maildir word": kept, "space": kept, "brackets": kept, "wildcard": kept,
		},
		messages: map[string]string{
			"bare LF": crlf, "1971 +05:30": keptUTC, "1969 before the epoch": refused,
			"2030 -05:00": keptUTC, "2110 after 2106": keptUTC,
		},
	})
}

// TestMemServerBackup runs the matrix on go-imap's in-process server, as
// IMAP4rev2 (LIST-STATUS and ESEARCH, no CONDSTORE) and as plain
// IMAP4rev1 (none of the three).
func TestMemServerBackup(t *testing.T) {
	t.Parallel()
	folders := map[string]string{
		"other separator inside": kept, "doubled separator": kept, "trailing separator": "listed as Trailing",
		"leading dot": kept, "leading tilde": kept, "percent": kept, "Maildir word": kept,
		"space": kept, "brackets": kept, "wildcard": kept,
	}
	messages := map[string]string{
		"bare LF": "header CRLF, body kept", "1971 +05:30": kept, "1969 before the epoch": kept,
		"2030 -05:00": kept, "2110 after 2106": kept,
	}
	for _, tc := range []struct {
		name  string
		caps  imap.CapSet
		paths syncPaths
	}{
		{"IMAP4rev2", nil, syncPaths{listStatus: true, esearch: true}},
		{"IMAP4rev1", imap.CapSet{imap.CapIMAP4rev1: {}}, noExtensions},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := memservertest.Start(t, memservertest.Options{Caps: tc.caps})
			runMatrix(t, matrixServer{s.String(), s.IMAPAddr, s.Password, s.Dial, s.Prefix, s.Delim},
				expectation{paths: tc.paths, folders: folders, messages: messages})
		})
	}
}

// TestDovecotHardCases runs the matrix on Dovecot with the default
// Maildir++ layout, the reference for the other servers.
func TestDovecotHardCases(t *testing.T) {
	t.Parallel()
	s := dovecottest.Start(t, dovecottest.Options{})
	runMatrix(t, matrixServer{s.String(), s.IMAPAddr, s.Password, s.Dial, "", '/'}, expectation{
		paths: allExtensions,
		folders: map[string]string{
			"other separator inside": refused, "doubled separator": refused,
			"trailing separator": "listed as Trailing", "leading dot": refused, "leading tilde": refused,
			"percent": kept, "Maildir word": kept, "space": kept, "brackets": kept, "wildcard": kept,
		},
		messages: map[string]string{
			"bare LF": crlf, "1971 +05:30": keptUTC, "1969 before the epoch": kept,
			"2030 -05:00": appendTime, "2110 after 2106": appendTime,
		},
	})
}

// Outcomes of a hard case.
const (
	kept       = "kept"                             // listed or served as given
	keptUTC    = "kept, served in UTC"              // the same instant, zone +0000
	refused    = "refused"                          // CREATE or APPEND fails
	crlf       = "served with CRLF"                 // bare LF turned into CRLF
	appendTime = "served as the time of the APPEND" // the date was replaced by "now"
	// CREATE succeeds but LIST never shows the folder; APPEND to it fails,
	// or works, and then the mail is out of every client's sight.
	notListed          = "created, not listed, APPEND refused"
	notListedTakesMail = "created, not listed, takes mail"
)

// syncPaths says which extensions a server offers, so which path of the
// incremental sync runs.
type syncPaths struct {
	condstore  bool // EXAMINE (CONDSTORE), UID FETCH (CHANGEDSINCE)
	listStatus bool // LIST RETURN (STATUS): unchanged folders are skipped
	esearch    bool // UID SEARCH RETURN (ALL)
}

var (
	allExtensions = syncPaths{condstore: true, listStatus: true, esearch: true}
	noExtensions  = syncPaths{}
)

// expectation is what a server of the matrix is known to do.
type expectation struct {
	paths    syncPaths
	folders  map[string]string // folder case → outcome (see oddFolders)
	messages map[string]string // message case → outcome (see edgeMessages)
}
