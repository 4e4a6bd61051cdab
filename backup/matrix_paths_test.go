package backup_test

import (
	"regexp"
	"testing"
)

// checkPaths checks, from the commands the backup runs sent, that the sync
// took the path the server's extensions call for, and logs which.
func checkPaths(t *testing.T, want syncPaths, folders int, first, rerun, flagRun string) {
	t.Helper()
	got := syncPaths{
		listStatus: listStatusRE.MatchString(first),
		condstore:  condstoreRE.MatchString(first) && changedSinceRE.MatchString(flagRun),
		esearch:    esearchRE.MatchString(first),
	}
	t.Logf("sync path: LIST-STATUS %v, CONDSTORE (CHANGEDSINCE) %v, ESEARCH %v", got.listStatus, got.condstore, got.esearch)
	if got != want {
		t.Errorf("the backup used %+v, want %+v", got, want)
	}
	if !want.condstore && (condstoreRE.MatchString(first) || changedSinceRE.MatchString(flagRun)) {
		t.Error("CONDSTORE used on a server without it")
	}
	// Without LIST-STATUS and CONDSTORE a run cannot tell an unchanged
	// folder: it opens every folder and compares all flags.
	opened := len(examineRE.FindAllString(rerun, -1))
	wantOpened := folders
	if want.listStatus && want.condstore {
		wantOpened = 0
	}
	t.Logf("no-change run opened %d of %d folders", opened, folders)
	if opened != wantOpened {
		t.Errorf("no-change run opened %d folders, want %d", opened, wantOpened)
	}
}

var (
	listStatusRE   = regexp.MustCompile(`(?m)^\S+ LIST .* RETURN \(STATUS `)
	condstoreRE    = regexp.MustCompile(`(?m)^\S+ EXAMINE .*\(CONDSTORE\)\r$`)
	changedSinceRE = regexp.MustCompile(`(?m)^\S+ UID FETCH .*\(CHANGEDSINCE \d+\)\r$`)
	esearchRE      = regexp.MustCompile(`(?m)^\S+ UID SEARCH RETURN \(ALL\)`)
	examineRE      = regexp.MustCompile(`(?m)^\S+ EXAMINE `)
)
