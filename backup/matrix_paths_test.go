package backup_test

import (
	"bufio"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
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

// commandLog is a loopback proxy in front of an IMAP server that records
// the lines clients send: the commands of the backup runs that dial it.
type commandLog struct {
	addr   string
	target string
	mu     sync.Mutex
	lines  strings.Builder
}

func recordCommands(t *testing.T, target string) *commandLog {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	l := &commandLog{addr: ln.Addr().String(), target: target}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go l.relay(c)
		}
	}()
	return l
}

func (l *commandLog) relay(c net.Conn) {
	defer c.Close()
	s, err := net.Dial("tcp", l.target)
	if err != nil {
		return
	}
	defer s.Close()
	go func() {
		io.Copy(c, s)
		c.Close()
	}()
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if line != "" {
			l.mu.Lock()
			l.lines.WriteString(line)
			l.mu.Unlock()
			if _, werr := io.WriteString(s, line); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// take returns the lines recorded since the last take. A command that
// was answered has been recorded.
func (l *commandLog) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines.String()
	l.lines.Reset()
	return out
}
