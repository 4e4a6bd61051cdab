package pop3

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// readBody reads a bodyReader through read, which may cut reads short.
func readBody(wire string, src, read func(io.Reader) io.Reader) (string, *bufio.Reader, error) {
	r := bufio.NewReaderSize(src(strings.NewReader(wire)), 16)
	b := &bodyReader{r: r, lineStart: true}
	var out bytes.Buffer
	_, err := io.Copy(&out, read(b))
	if err == nil && b.n != int64(out.Len()) {
		err = fmt.Errorf("bodyReader counted %d bytes, gave %d", b.n, out.Len())
	}
	return out.String(), r, err
}

// TestBodyReader checks that bodyReader gives what copyBody writes, however
// the connection and the consumer cut the reads.
func TestBodyReader(t *testing.T) {
	const next = "+OK next\r\n"
	for _, wire := range []string{
		".\r\n", "hello\r\n.\r\n", "..\r\n...\r\n..x\r\n.\r\n", ".x\r\n.\r\n", "a.\r\nb..c\r\n.\r\n",
		"a\n..b\n.\r\n", ".\rx\r\n.\r\n", "a\r\n.\n.\r\n", "\x80\xff\x00\r\n.\r\n",
		strings.Repeat("y", 100_000) + "\r\n.\r\n", strings.Repeat("..\r\n", 2_000) + ".\r\n",
	} {
		var want bytes.Buffer
		if _, err := copyBody(&want, bufio.NewReader(strings.NewReader(wire))); err != nil {
			t.Fatal(err)
		}
		for sname, src := range readers {
			for rname, read := range readers {
				got, r, err := readBody(wire+next, src, read)
				if err != nil || got != want.String() {
					t.Fatalf("%.20q (%s, read %s) = %.40q, %v; want %.40q", wire, sname, rname, got, err, want.String())
				}
				if rest, _ := io.ReadAll(r); string(rest) != next {
					t.Fatalf("%.20q (%s, read %s): left %q after the terminator", wire, sname, rname, rest)
				}
			}
		}
	}
	for _, wire := range []string{"", "a", "a\r\n", "a\r\n.", "a\r\n.\r", "..\r\n", "x\r\n.."} {
		if got, _, err := readBody(wire, iotest.HalfReader, iotest.OneByteReader); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%q: bodyReader = %q, %v; want io.ErrUnexpectedEOF", wire, got, err)
		}
	}
}

func FuzzBodyReader(f *testing.F) {
	for _, s := range []string{"", ".", "..", ".\r\n", "a\r\n.\r\n", "a\n.", "\r\n..\r\n", "\x80\xff", "a\rb"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		wire, want := dotStuff(body)
		got, r, err := readBody(string(wire)+"+OK\r\n", iotest.HalfReader, iotest.OneByteReader)
		if err != nil || got != string(want) {
			t.Fatalf("body %q: bodyReader(%q) = %q, %v", body, wire, got, err)
		}
		if rest, _ := io.ReadAll(r); string(rest) != "+OK\r\n" {
			t.Fatalf("body %q: left %q after the terminator", body, rest)
		}
	})
}

// collect is a BodyFunc that records each message, or its error, as text.
func collect(got *[]string) BodyFunc {
	return func(num int, body io.Reader, err error) error {
		if err != nil {
			*got = append(*got, fmt.Sprintf("%d: %v", num, err))
			return nil
		}
		data, err := io.ReadAll(iotest.OneByteReader(body))
		*got = append(*got, fmt.Sprintf("%d: %q", num, data))
		return err
	}
}

func TestRetrEach(t *testing.T) {
	t.Run("pipelined", func(t *testing.T) {
		// The server reads RETR 2 before it answers RETR 1: a client that
		// waited for each answer would time out.
		s := serveScript(t, script(hello("PIPELINING"), []step{
			{expect: "RETR 1"},
			{expect: "RETR 2", send: []string{okBody("..one\r\n"), "-ERR [SYS/PERM] gone\r\n"}},
			say("RETR 3", okBody("three\r\n")),
			say("NOOP", "+OK\r\n"),
		}))
		c, err := dialScript(t, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		if err := c.RetrEach(ctx, []int{1, 2, 3}, collect(&got)); err != nil {
			t.Fatal(err)
		}
		want := []string{`1: ".one\r\n"`, "2: pop3: retr 2: server answered -ERR [SYS/PERM] gone", `3: "three\r\n"`}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("RetrEach gave\n%q\nwant\n%q", got, want)
		}
		wantNoop(t, c)
	})
	t.Run("one at a time without PIPELINING", func(t *testing.T) {
		s := serveScript(t, script(hello("TOP"), []step{
			say("TOP 4 0", okBody("Subject: x\r\n\r\n")),
			say("TOP 5 0", okBody("Subject: y\r\n\r\n")),
		}))
		c, err := dialScript(t, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		if err := c.TopEach(ctx, []int{4, 5}, 0, collect(&got)); err != nil || len(got) != 2 {
			t.Fatalf("TopEach = %q, %v", got, err)
		}
	})
	t.Run("unread rest is skipped", func(t *testing.T) {
		s := serveScript(t, script(hello("PIPELINING"), []step{
			say("RETR 1", okBody(strings.Repeat("x", 50_000)+"\r\n")),
			say("RETR 2", okBody("two\r\n")),
		}))
		c, err := dialScript(t, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		var second string
		err = c.RetrEach(ctx, []int{1, 2}, func(num int, body io.Reader, err error) error {
			if num == 2 {
				b, err := io.ReadAll(body)
				second = string(b)
				return err
			}
			return err
		})
		if err != nil || second != "two\r\n" {
			t.Fatalf("RetrEach: %v, second message %q", err, second)
		}
	})
	t.Run("fn fails: the session ends without QUIT", func(t *testing.T) {
		s := serveScript(t, script(hello("PIPELINING"), []step{
			say("RETR 1", okBody("one\r\n")),
			say("RETR 2", okBody("two\r\n")),
		}))
		c, err := dialScript(t, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = c.RetrEach(ctx, []int{1, 2}, func(num int, body io.Reader, err error) error {
			io.CopyN(io.Discard, body, 2)
			return errDiskFull
		})
		if !errors.Is(err, errDiskFull) {
			t.Fatalf("RetrEach: %v; want the callback's error", err)
		}
		if err := c.Quit(ctx); err == nil {
			t.Error("Quit succeeded after RetrEach failed")
		}
		wantEnded(t, c, s)
	})
	t.Run("connection cut mid-message", func(t *testing.T) {
		s := serveScript(t, script(hello("PIPELINING"), []step{
			say("RETR 1", okBody("one\r\n")),
			{expect: "RETR 2", send: []string{"+OK\r\npartial"}, then: hangUp},
		}))
		c, err := dialScript(t, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		err = c.RetrEach(ctx, []int{1, 2}, collect(&got))
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("RetrEach: %v; want io.ErrUnexpectedEOF", err)
		}
		if len(got) != 2 || got[0] != `1: "one\r\n"` {
			t.Errorf("RetrEach gave %q", got)
		}
	})
	t.Run("bad message number: nothing sent", func(t *testing.T) {
		s := serveScript(t, script(hello("PIPELINING"), []step{say("NOOP", "+OK\r\n")}))
		c, err := dialScript(t, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.RetrEach(ctx, []int{1, 0}, collect(new([]string))); !errors.Is(err, errBadArgument) {
			t.Errorf("RetrEach with message 0: %v", err)
		}
		wantNoop(t, c)
	})
}

func TestDeleEach(t *testing.T) {
	s := serveScript(t, script(hello("PIPELINING"), []step{
		{expect: "DELE 1"},
		{expect: "DELE 2"},
		{expect: "DELE 3", send: []string{"+OK\r\n-ERR [SYS/TEMP] locked\r\n+OK\r\n"}},
		say("QUIT", "+OK bye\r\n"),
	}))
	c, err := dialScript(t, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = c.DeleEach(ctx, []int{1, 2, 3}, func(num int, err error) {
		got = append(got, fmt.Sprintf("%d %v", num, err))
	})
	want := "1 <nil>|2 pop3: dele 2: server answered -ERR [SYS/TEMP] locked|3 <nil>"
	if err != nil || strings.Join(got, "|") != want {
		t.Fatalf("DeleEach = %q, %v; want %q", got, err, want)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestList(t *testing.T) {
	s := serveScript(t, script(hello(), []step{say("LIST", "+OK 2 messages\r\n2 20\r\n1 10\r\n.\r\n")}))
	c, err := dialScript(t, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := c.List(ctx)
	if err != nil || fmt.Sprint(entries) != "[{1  10} {2  20}]" {
		t.Fatalf("List = %v, %v", entries, err)
	}
}

func TestUIDLPipelined(t *testing.T) {
	t.Run("UIDL and LIST at once", func(t *testing.T) {
		// The server reads LIST before it answers UIDL: a client that
		// waited for the first answer would time out.
		s := serveScript(t, script(hello("PIPELINING"), []step{
			{expect: "UIDL"},
			{expect: "LIST", send: []string{"+OK\r\n1 a\r\n2 b\r\n.\r\n", "+OK 2 messages\r\n1 10\r\n2 20\r\n.\r\n"}},
			say("NOOP", "+OK\r\n"),
		}))
		c, err := dialScript(t, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.UIDL(ctx)
		want := []Entry{{1, "a", 10}, {2, "b", 20}}
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("UIDL = %v, %v; want %v", got, err, want)
		}
		wantNoop(t, c)
	})
	t.Run("UIDL -ERR", func(t *testing.T) {
		s := serveScript(t, script(hello("PIPELINING"), []step{
			{expect: "UIDL"},
			{expect: "LIST", send: []string{"-ERR unknown command\r\n", "+OK\r\n1 10\r\n.\r\n"}},
			say("NOOP", "+OK\r\n"),
		}))
		c, err := dialScript(t, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.UIDL(ctx); !errors.Is(err, ErrNoUIDL) {
			t.Fatalf("UIDL: %v; want ErrNoUIDL", err)
		}
		wantNoop(t, c)
	})
}
