package export

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readMbox splits an mbox as Python's mailbox.mbox does (a message starts
// at a line beginning with "From "; the empty line before the next one, or
// before the end, is not part of it) and un-quotes mboxrd. It is the
// reference the writer is checked against.
func readMbox(data []byte) (froms []string, msgs [][]byte) {
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	var cur [][]byte
	flush := func() {
		if froms == nil {
			return
		}
		if n := len(cur); n > 0 && string(cur[n-1]) == "\n" {
			cur = cur[:n-1]
		}
		msgs = append(msgs, unquote(bytes.Join(cur, nil)))
		cur = nil
	}
	for _, l := range lines {
		if bytes.HasPrefix(l, []byte("From ")) {
			flush()
			froms = append(froms, string(l))
			continue
		}
		cur = append(cur, l)
	}
	flush()
	return froms, msgs
}

var quotedFrom = regexp.MustCompile(`(?m)^>(>*From )`)

func unquote(b []byte) []byte { return quotedFrom.ReplaceAll(b, []byte("$1")) }

// writeMbox writes msgs as one mbox, each in pieces of chunk bytes.
func writeMbox(t testing.TB, msgs [][]byte, chunk int) ([]byte, int) {
	var out bytes.Buffer
	var q quoter
	added := 0
	for _, m := range msgs {
		out.WriteString(fromLine("a@b.example", time.Unix(0, 0)))
		q.reset(&out)
		for p := m; len(p) > 0; {
			n := min(max(chunk, 1), len(p))
			if _, err := q.Write(p[:n]); err != nil {
				t.Fatal(err)
			}
			p = p[n:]
		}
		a, err := q.end()
		if err != nil {
			t.Fatal(err)
		}
		if a {
			added++
		}
	}
	return out.Bytes(), added
}

// checkRoundTrip writes msgs and reads them back.
func checkRoundTrip(t *testing.T, msgs [][]byte, chunk int) {
	t.Helper()
	data, added := writeMbox(t, msgs, chunk)
	froms, got := readMbox(data)
	if len(got) != len(msgs) || len(froms) != len(msgs) {
		t.Fatalf("chunk %d: %d messages in, %d out:\n%q", chunk, len(msgs), len(got), data)
	}
	want := 0
	for i, m := range msgs {
		if len(m) == 0 || m[len(m)-1] != '\n' {
			m = append(bytes.Clone(m), '\n')
			want++
		}
		if !bytes.Equal(got[i], m) {
			t.Fatalf("chunk %d, message %d:\n got %q\nwant %q\nmbox %q", chunk, i, got[i], m, data)
		}
	}
	if added != want {
		t.Errorf("chunk %d: %d newlines reported, want %d", chunk, added, want)
	}
}

func TestQuoterRoundTrip(t *testing.T) {
	msgs := []string{
		"From: a@b\r\n\r\nFrom here\r\n>From there\r\n>>From far\r\n",
		"From nobody\nFrom\n>From\nFrom \n>>>\n>>>From x\nFromage\n",
		"no final newline",
		"",
		"\n",
		"\n\n",
		"x\n\nFrom y\n\n",
		">",
		">>From",
		"a\r\nFrom ",
		"From the start",
		"line\n" + strings.Repeat(">", 200) + "From deep\n",
	}
	var in [][]byte
	for _, m := range msgs {
		in = append(in, []byte(m))
	}
	for chunk := 1; chunk <= 9; chunk++ {
		checkRoundTrip(t, in, chunk)
	}
	checkRoundTrip(t, in, 1<<20)
}

func TestQuoterQuotes(t *testing.T) {
	data, _ := writeMbox(t, [][]byte{[]byte("From a\n>From b\nx From c\n>>From d\n> From e\n")}, 3)
	want := "From a@b.example Thu Jan  1 00:00:00 1970\n>From a\n>>From b\nx From c\n>>>From d\n> From e\n\n"
	if string(data) != want {
		t.Errorf("got %q\nwant %q", data, want)
	}
}

func FuzzQuoter(f *testing.F) {
	f.Add([]byte("From a\n>From b\n"), []byte("x"), 3)
	f.Add([]byte(">>>From \r\n"), []byte(""), 1)
	f.Add([]byte("\n\nFrom"), []byte("From \n\n"), 2)
	f.Fuzz(func(t *testing.T, a, b []byte, chunk int) {
		checkRoundTrip(t, [][]byte{a, b}, chunk%97)
	})
}

func TestEnvelopeSender(t *testing.T) {
	tests := []struct{ head, want string }{
		{"Return-Path: <bounce@list.example>\r\nFrom: A <a@b.example>\r\n\r\nbody", "bounce@list.example"},
		{"From: A <a@b.example>\r\nReturn-Path: <r@b.example>\r\n\r\n", "r@b.example"},
		{"From: A <a@b.example>\r\n\r\nReturn-Path: <body@x.example>\r\n", "a@b.example"},
		{"From: \"Last, First\" <first@x.example>, other@y.example\r\n\r\n", "first@x.example"},
		{"From:\r\n  folded@x.example\r\n\r\n", "folded@x.example"},
		{"Return-Path: <>\r\nFrom: a@b.example\r\n\r\n", mailerDaemon},
		{"From: =?utf-8?q?J=C3=B6rg?= <joerg@x.example>\n\n", "joerg@x.example"},
		{"From: Jörg <jörg@bücher.example>\n\n", "jörg@bücher.example"},
		{"From: broken <a b@c>\n\n", mailerDaemon},
		{"From: no address here\n\n", mailerDaemon},
		{"Subject: none\n\n", mailerDaemon},
		{"", mailerDaemon},
		{"From: <x@y.example", "x@y.example"},
		{"from: lower@x.example\n", "lower@x.example"},
		{"not a header line\nFrom: a@b.example\n\n", "a@b.example"},
	}
	for _, tt := range tests {
		if got := envelopeSender([]byte(tt.head)); got != tt.want {
			t.Errorf("envelopeSender(%q) = %q, want %q", tt.head, got, tt.want)
		}
	}
}

func FuzzEnvelopeSender(f *testing.F) {
	f.Add([]byte("Return-Path: <a@b>\r\n\r\n"))
	f.Add([]byte("From: A <a@b.example>\r\n\r\n"))
	f.Add([]byte("From:\n \n\tx@y\n"))
	f.Fuzz(func(t *testing.T, head []byte) {
		s := envelopeSender(head)
		if s != mailerDaemon && !senderToken(s) {
			t.Errorf("envelopeSender(%q) = %q: not one word", head, s)
		}
		line := fromLine(s, time.Now())
		if f := strings.Fields(line); strings.Count(line, "\n") != 1 || len(f) != 7 || f[1] != s {
			t.Errorf("From line %q", line)
		}
	})
}
