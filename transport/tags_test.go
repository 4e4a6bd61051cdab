package transport

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// A session as each side sends it: literals hold text that looks like
// tagged lines and literal announcements, and must not count.
var (
	clientSide = "T1 LOGIN alice pw\r\n" +
		"T2 APPEND INBOX (\\Seen) {21}\r\nT9 OK {3}\r\nT8 NOOP\r\n\r\n" +
		"T3 APPEND INBOX {4+}\r\nT7 x\r\n" +
		"T4 AUTHENTICATE PLAIN\r\nAGFsaWNlAHB3\r\n" +
		"T5 UID FETCH 1:* (UID BODY.PEEK[])\r\n"
	serverSide = "* OK ready\r\n" +
		"T1 OK logged in\r\n+ go ahead\r\nT2 OK appended\r\nT3 OK appended\r\n+ \r\nT4 OK\r\n" +
		"* 1 FETCH (UID 1 BODY[] {30}\r\nT5 OK fake\r\nT6 BAD fake {99}\r\n)\r\n" +
		"* 2 FETCH (UID 2 BODY[] {0}\r\n)\r\n" +
		"* OK [ALERT] text\r\nT5 OK done\r\n"
)

// TestTagScanner counts the commands and completions of a session, however
// the bytes are split into reads and writes.
func TestTagScanner(t *testing.T) {
	for _, size := range []int{1, 2, 3, 7, 64, 1 << 20} {
		client, server := tagScanner{tagged: clientTag}, tagScanner{tagged: serverTag}
		if got := scanIn(&client, clientSide, size); got != 5 {
			t.Errorf("chunks of %d: %d commands, want 5", size, got)
		}
		if got := scanIn(&server, serverSide, size); got != 5 {
			t.Errorf("chunks of %d: %d completions, want 5", size, got)
		}
	}
}

func scanIn(s *tagScanner, stream string, size int) int {
	n := 0
	for len(stream) > 0 {
		k := min(size, len(stream))
		n += s.scan([]byte(stream[:k]))
		stream = stream[k:]
	}
	return n
}

func TestLiteralSize(t *testing.T) {
	for line, want := range map[string]int64{"{5}\r": 5, "x {12+}": 12, "{0-}\r": 0, "{}": -1, "{+}": -1,
		"5}": -1, "{a5}": -1, "text": -1, "{99999999999999999999}": -1, "": -1} {
		got, ok := literalSize([]byte(line))
		if !ok {
			got = -1
		}
		if got != want {
			t.Errorf("%q: %d, want %d", line, got, want)
		}
	}
}

// FuzzTagScanner: any bytes, split anywhere, count the same.
func FuzzTagScanner(f *testing.F) {
	f.Add(serverSide, 3)
	f.Add(clientSide, 1)
	f.Add("T1 {3}\r\nab\ncd\r\nT2 x\r\n", 2)
	f.Fuzz(func(t *testing.T, stream string, size int) {
		size = 1 + abs(size)%64
		whole, split := tagScanner{tagged: serverTag}, tagScanner{tagged: serverTag}
		if a, b := scanIn(&whole, stream, len(stream)+1), scanIn(&split, stream, size); a != b {
			t.Fatalf("%d tags whole, %d in chunks of %d", a, b, size)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// TestIdleConnCounts: a completion that arrives before the write of its
// command has returned is not lost, so a connection that awaits nothing
// has no deadline.
func TestIdleConnCounts(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	go func() {
		r := bufio.NewReader(server)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			tag, _, _ := strings.Cut(line, " ")
			io.WriteString(server, "* 1 FETCH (BODY[] {3}\r\nT9 )\r\n"+tag+" OK done\r\n")
		}
	}()
	c := newIdleConn(client, client, "pipe", time.Minute)
	c.start()
	lines := make(chan string)
	go func() { // as go-imap's reader, apart from the writer
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				close(lines)
				return
			}
			lines <- line
		}
	}()
	for i := 1; i <= 300; i++ {
		if _, err := fmt.Fprintf(c, "T%d NOOP\r\n", i); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			<-lines
		}
		c.mu.Lock()
		pending := c.pending
		c.mu.Unlock()
		if pending != 0 {
			t.Fatalf("command %d: %d pending after its completion", i, pending)
		}
	}
}
