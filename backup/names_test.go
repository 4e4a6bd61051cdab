package backup_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mailkeep/mailkeep/archive"
)

// namesServer lists the folders of its list (as LIST lines give them) and
// serves two messages in each; it records the names clients EXAMINE,
// exactly as they came over the wire.
type namesServer struct {
	list     []string // the mailbox part of each LIST line
	mu       sync.Mutex
	examined []string
}

func (s *namesServer) serve(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.session(c)
		}
	}()
	return ln.Addr().String()
}

// readCommand reads one command line with its synchronizing literals.
func readCommand(r *bufio.Reader, w *bufio.Writer) (string, error) {
	var cmd strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		body := strings.TrimRight(line, "\r\n")
		i := strings.LastIndexByte(body, '{')
		if i < 0 || !strings.HasSuffix(body, "}") {
			cmd.WriteString(body)
			return cmd.String(), nil
		}
		n, err := strconv.Atoi(body[i+1 : len(body)-1])
		if err != nil {
			return "", err
		}
		cmd.WriteString(body[:i])
		fmt.Fprint(w, "+ go ahead\r\n")
		w.Flush()
		lit := make([]byte, n)
		if _, err := io.ReadFull(r, lit); err != nil {
			return "", err
		}
		cmd.WriteString(strconv.Quote(string(lit)))
	}
}

func (s *namesServer) session(c net.Conn) {
	defer c.Close()
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	fmt.Fprint(w, "* OK [CAPABILITY IMAP4rev1] ready\r\n")
	w.Flush()
	for {
		line, err := readCommand(r, w)
		if err != nil {
			return
		}
		tag, rest, _ := strings.Cut(line, " ")
		verb, arg, _ := strings.Cut(rest, " ")
		switch strings.ToUpper(verb) {
		case "LOGIN":
			fmt.Fprintf(w, "%s OK logged in\r\n", tag)
		case "LIST":
			for _, name := range s.list {
				fmt.Fprintf(w, "* LIST () \"/\" %s\r\n", name)
			}
			fmt.Fprintf(w, "%s OK\r\n", tag)
		case "EXAMINE":
			s.mu.Lock()
			s.examined = append(s.examined, arg)
			s.mu.Unlock()
			fmt.Fprintf(w, "* 2 EXISTS\r\n* OK [UIDVALIDITY 1]\r\n* OK [UIDNEXT 3]\r\n%s OK [READ-ONLY]\r\n", tag)
		case "UID":
			if strings.HasPrefix(strings.ToUpper(arg), "SEARCH") {
				fmt.Fprintf(w, "* SEARCH 1 2\r\n%s OK\r\n", tag)
			} else {
				fetchGood(w, tag, strings.Contains(arg, "BODY.PEEK"))
			}
		case "LOGOUT":
			fmt.Fprintf(w, "* BYE\r\n%s OK\r\n", tag)
			w.Flush()
			return
		default:
			fmt.Fprintf(w, "%s BAD unknown\r\n", tag)
		}
		w.Flush()
	}
}

// TestOddFolderNames: a folder whose name is not valid modified UTF-7, or
// holds raw 8-bit bytes, is backed up with the others under an escaped
// name that keeps the server's bytes, and the client examines it under the
// bytes the server sent; INBOX listed in two cases is one folder.
func TestOddFolderNames(t *testing.T) {
	s := &namesServer{list: []string{"INBOX", "inbox", "Good", "Caf&AOk-", `"Bad&Jjo"`, "{4}\r\nCaf\xe9"}}
	addr := s.serve(t)
	root := t.TempDir()
	res, err := backupOnce(t.Context(), root, dialVia(addr, "alice", "pw", 0))
	if err != nil || res.Outcome != archive.OutcomeOK || res.Stats.NewMessages != 10 || res.Stats.Folders != 5 {
		t.Fatalf("backup: %s %+v, %v; want ok with 5 folders, 10 messages", res.Outcome, res.Stats, err)
	}
	slices.Sort(s.examined)
	want := []string{`"Bad&Jjo"`, `"Caf&AOk-"`, `"Caf\xe9"`, `"Good"`, "INBOX"}
	if !slices.Equal(s.examined, want) {
		t.Errorf("examined %q, want %q", s.examined, want)
	}
	snap, err := archive.OpenSnapshot(t.Context(), root, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	folders, _ := snap.Folders(t.Context(), archive.View{})
	var names []string
	for _, f := range folders {
		names = append(names, f.Name)
		if f.Count != 2 {
			t.Errorf("folder %q: %d messages", f.Name, f.Count)
		}
	}
	wantNames := []string{"Café", "Good", "INBOX", "\xffBad&Jjo", "\xffCaf\xe9"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("archived folders %q, want %q", names, wantNames)
	}
	checkComplete(t, root, 10)
	checkInside(t, root)
}
