package servertest

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
)

// CommandLog is a loopback proxy in front of an IMAP server that records
// the lines clients send: the commands of the runs that dial Addr.
type CommandLog struct {
	Addr   string
	target string
	mu     sync.Mutex
	lines  strings.Builder
}

// RecordCommands starts a CommandLog in front of target; it stops at test
// cleanup.
func RecordCommands(t testing.TB, target string) *CommandLog {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	l := &CommandLog{Addr: ln.Addr().String(), target: target}
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

func (l *CommandLog) relay(c net.Conn) {
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

// Take returns the lines recorded since the last Take. A command that was
// answered has been recorded.
func (l *CommandLog) Take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines.String()
	l.lines.Reset()
	return out
}
