package pop3

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

var ctx = context.Background()

// retr runs Retr into a string.
func retr(c *Client, num int) (string, int64, error) {
	var b strings.Builder
	n, err := c.Retr(ctx, num, &b)
	if int64(b.Len()) != n {
		return b.String(), n, errors.New("Retr's count differs from the bytes written")
	}
	return b.String(), n, err
}

func wantRetr(t *testing.T, c *Client, num int, want string) {
	t.Helper()
	got, n, err := retr(c, num)
	if err != nil {
		t.Fatalf("Retr %d: %v", num, err)
	}
	if got != want || n != int64(len(want)) {
		t.Fatalf("Retr %d = %q (%d bytes), want %q", num, got, n, want)
	}
}

func wantNoop(t *testing.T, c *Client) {
	t.Helper()
	if err := c.Noop(ctx); err != nil {
		t.Fatalf("Noop after the previous command: %v", err)
	}
}

// wantEnded checks that the session is over and that the client sent
// nothing more (in particular no QUIT).
func wantEnded(t *testing.T, c *Client, s *scriptServer) {
	t.Helper()
	if err := c.Noop(ctx); err == nil {
		t.Error("Noop succeeded on a session that should have ended")
	}
	if got := s.received(); len(got) != 0 {
		t.Errorf("client sent %q after the session ended", got)
	}
}

func wantServerError(t *testing.T, err error, cmd, code string) {
	t.Helper()
	var se *ServerError
	if !errors.As(err, &se) {
		t.Fatalf("error %v is not a *ServerError", err)
	}
	if se.Cmd != cmd || se.Code != code {
		t.Errorf("ServerError{Cmd: %q, Code: %q}, want {%q, %q}", se.Cmd, se.Code, cmd, code)
	}
}

func okBody(body string) string { return "+OK message follows\r\n" + body + ".\r\n" }

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func dialCases() []dialogCase {
	trusted := &tls.Config{RootCAs: testCert().pool}
	return []dialogCase{{
		name:   "EOF before greeting",
		script: []step{{then: hangUp}},
		dialErr: func(t *testing.T, err error, _ time.Duration, _ *scriptServer) {
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("err = %v, want io.ErrUnexpectedEOF", err)
			}
		},
	}, {
		name:   "silent server",
		opts:   &Options{Timeout: 200 * time.Millisecond},
		script: []step{{then: goSilent}},
		dialErr: func(t *testing.T, err error, elapsed time.Duration, _ *scriptServer) {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("err = %v, want a deadline error", err)
			}
			if elapsed > 3*time.Second {
				t.Errorf("Dial took %v with a 200ms timeout", elapsed)
			}
		},
	}, {
		name:   "greeting -ERR",
		script: []step{{send: []string{"-ERR [SYS/TEMP] too many connections\r\n"}, then: hangUp}},
		dialErr: func(t *testing.T, err error, _ time.Duration, _ *scriptServer) {
			wantServerError(t, err, "greeting", "SYS/TEMP")
		},
	}, {
		name:   "greeting not POP3",
		script: []step{{send: []string{"* OK IMAP4rev1 ready\r\n"}}},
		dialErr: func(t *testing.T, err error, _ time.Duration, _ *scriptServer) {
			if !errors.Is(err, errProtocol) {
				t.Errorf("err = %v, want a protocol violation", err)
			}
		},
	}, {
		name:   "greeting line too long",
		script: []step{{send: []string{"+OK " + strings.Repeat("x", maxLineLen) + "\r\n"}}},
		dialErr: func(t *testing.T, err error, _ time.Duration, _ *scriptServer) {
			if !errors.Is(err, errProtocol) {
				t.Errorf("err = %v, want a protocol violation", err)
			}
		},
	}, {
		name:   "capabilities",
		script: script(hello("TOP", "UIDL", "sasl PLAIN LOGIN", "IMPLEMENTATION Test server", ".dotted")),
		check: func(t *testing.T, c *Client, _ *scriptServer) {
			want := map[string][]string{"TOP": nil, "UIDL": nil, "SASL": {"PLAIN", "LOGIN"},
				"IMPLEMENTATION": {"Test", "server"}, "DOTTED": nil}
			if got := c.Capabilities(); !reflect.DeepEqual(got, want) {
				t.Errorf("Capabilities() = %q, want %q", got, want)
			}
		},
	}, {
		name:   "CAPA unsupported",
		script: script(hello(), []step{say("USER bob", "+OK\r\n"), say("PASS pw", "+OK\r\n")}),
		check: func(t *testing.T, c *Client, _ *scriptServer) {
			if got := c.Capabilities(); len(got) != 0 {
				t.Errorf("Capabilities() = %q, want none", got)
			}
			if err := auth(ctx, c, "bob", "pw"); err != nil {
				t.Errorf("Auth: %v", err)
			}
		},
	}, {
		name:      "STLS not offered",
		tls:       stls,
		tlsConfig: trusted,
		script:    script(hello("UIDL", "USER")),
		dialErr: func(t *testing.T, err error, _ time.Duration, s *scriptServer) {
			if !errors.Is(err, ErrNoSTLS) {
				t.Errorf("err = %v, want ErrNoSTLS", err)
			}
			if got := s.received(); len(got) != 0 {
				t.Errorf("client sent %q in plain text", got)
			}
		},
	}, {
		name:      "STLS",
		tls:       stls,
		tlsConfig: trusted,
		script: script(hello("STLS", "USER"), []step{
			{expect: "STLS", send: []string{"+OK Begin TLS negotiation\r\n"}, then: startTLS},
			say("CAPA", "+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n"),
			say("AUTH PLAIN "+b64("\x00bob\x00pw"), "+OK Logged in.\r\n"),
			say("QUIT", "+OK bye\r\n"),
		}),
		check: func(t *testing.T, c *Client, _ *scriptServer) {
			caps := c.Capabilities()
			if _, ok := caps["STLS"]; ok || len(caps["SASL"]) != 1 {
				t.Errorf("Capabilities() after STLS = %q, want the list sent over TLS", caps)
			}
			if err := auth(ctx, c, "bob", "pw"); err != nil {
				t.Fatalf("Auth: %v", err)
			}
			if err := c.Quit(ctx); err != nil {
				t.Fatalf("Quit: %v", err)
			}
		},
	}, {
		name:      "STLS answer with injected data",
		tls:       stls,
		tlsConfig: trusted,
		script: script(hello("STLS"), []step{
			say("STLS", "+OK Begin TLS negotiation\r\n+OK injected\r\n"),
		}),
		dialErr: func(t *testing.T, err error, _ time.Duration, _ *scriptServer) {
			if !errors.Is(err, errProtocol) {
				t.Errorf("err = %v, want a protocol violation", err)
			}
		},
	}, {
		name:      "implicit TLS",
		tls:       implicitTLS,
		tlsConfig: trusted,
		script: script([]step{{then: startTLS}}, hello("UIDL"), []step{
			say("NOOP", "+OK\r\n"),
		}),
		check: func(t *testing.T, c *Client, _ *scriptServer) { wantNoop(t, c) },
	}, {
		name:   "implicit TLS, untrusted certificate",
		tls:    implicitTLS,
		script: []step{{then: refuseTLS}},
		dialErr: func(t *testing.T, err error, _ time.Duration, _ *scriptServer) {
			var verr *tls.CertificateVerificationError
			if !errors.As(err, &verr) {
				t.Errorf("err = %v, want a certificate verification error", err)
			}
		},
	}}
}

func retrCases() []dialogCase {
	long := strings.Repeat("0123456789", 10_000) + "\r\n" // 100,002 bytes: several reads
	return []dialogCase{{
		name: "dot-stuffing",
		script: script(hello("TOP"), []step{
			say("RETR 1", okBody("...x\r\n..\r\n...\r\n.y\r\nend\r\n")),
			say("TOP 1 0", okBody("Subject: ..\r\n\r\n")),
			say("NOOP", "+OK\r\n"),
		}),
		check: func(t *testing.T, c *Client, _ *scriptServer) {
			// ".y" was not stuffed by the server; it is kept as sent.
			wantRetr(t, c, 1, "..x\r\n.\r\n..\r\n.y\r\nend\r\n")
			var b strings.Builder
			if n, err := c.Top(ctx, 1, 0, &b); err != nil || b.String() != "Subject: ..\r\n\r\n" || n != 15 {
				t.Errorf("Top = %q, %d, %v", b.String(), n, err)
			}
			wantNoop(t, c)
		},
	}, {
		name: "split across writes",
		script: script(hello(), []step{
			say("RETR 1", "+OK 25 octets\r", "\nline1\r", "\n.", ".dot\r\n", "..", "\r\nx\r\n.", "\r", "\n"),
			say("RETR 2", "+OK\r\n", "a\r", "\n", ".", ".", "\r", "\n", "\r\n.\r", "\n"),
			say("NOOP", "+OK\r\n"),
		}),
		check: func(t *testing.T, c *Client, _ *scriptServer) {
			wantRetr(t, c, 1, "line1\r\n.dot\r\n.\r\nx\r\n")
			wantRetr(t, c, 2, "a\r\n.\r\n\r\n")
			wantNoop(t, c)
		},
	}, {
		name: "message larger than LIST announced",
		script: script(hello(), []step{
			say("UIDL", "+OK\r\n1 a\r\n.\r\n"),
			say("LIST", "+OK\r\n1 10\r\n.\r\n"),
			say("RETR 1", okBody(strings.Repeat("x", 48)+"\r\n")),
		}),
		check: func(t *testing.T, c *Client, _ *scriptServer) {
			entries, err := c.UIDL(ctx)
			if err != nil || len(entries) != 1 || entries[0].Size != 10 {
				t.Fatalf("UIDL = %v, %v", entries, err)
			}
			wantRetr(t, c, 1, strings.Repeat("x", 48)+"\r\n")
		},
	}, {
		name:   "empty message",
		script: script(hello(), []step{say("RETR 1", okBody(""))}),
		check:  func(t *testing.T, c *Client, _ *scriptServer) { wantRetr(t, c, 1, "") },
	}, {
		name:   "line longer than the read buffer",
		script: script(hello(), []step{say("RETR 1", okBody(long)), say("NOOP", "+OK\r\n")}),
		check: func(t *testing.T, c *Client, _ *scriptServer) {
			wantRetr(t, c, 1, long)
			wantNoop(t, c)
		},
	}, {
		name:   "bare LF and lone CR",
		script: script(hello(), []step{say("RETR 1", okBody("a\n..b\nc\rd\r\n\n"))}),
		check:  func(t *testing.T, c *Client, _ *scriptServer) { wantRetr(t, c, 1, "a\n.b\nc\rd\r\n\n") },
	}, {
		name: "-ERR mid-session",
		script: script(hello(), []step{
			say("RETR 9", "-ERR [SYS/PERM] no such message\r\n"),
			say("NOOP", "+OK\r\n"),
			say("RETR 1", okBody("ok\r\n")),
		}),
		check: func(t *testing.T, c *Client, _ *scriptServer) {
			got, n, err := retr(c, 9)
			if err == nil || got != "" || n != 0 {
				t.Fatalf("Retr 9 = %q, %d, %v; want an error", got, n, err)
			}
			wantServerError(t, err, "RETR", "SYS/PERM")
			wantNoop(t, c)
			wantRetr(t, c, 1, "ok\r\n")
		},
	}, {
		name:   "connection cut mid-RETR",
		script: script(hello(), []step{{expect: "RETR 1", send: []string{"+OK\r\npartial\r\n"}, then: hangUp}}),
		check: func(t *testing.T, c *Client, s *scriptServer) {
			got, _, err := retr(c, 1)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("Retr = %q, %v; want io.ErrUnexpectedEOF", got, err)
			}
			wantEnded(t, c, s)
		},
	}, {
		name: "connection cut right after +OK",
		script: script(hello(), []step{
			{expect: "RETR 1", send: []string{"+OK\r\n"}, then: hangUp},
		}),
		check: func(t *testing.T, c *Client, s *scriptServer) {
			if _, _, err := retr(c, 1); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("Retr: %v; want io.ErrUnexpectedEOF", err)
			}
		},
	}, {
		name:   "server silent mid-RETR",
		opts:   &Options{Timeout: 300 * time.Millisecond},
		script: script(hello(), []step{{expect: "RETR 1", send: []string{"+OK\r\npartial\r\n"}, then: goSilent}}),
		check: func(t *testing.T, c *Client, _ *scriptServer) {
			start := time.Now()
			_, _, err := retr(c, 1)
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("Retr: %v; want a deadline error", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("Retr took %v with a 300ms timeout", d)
			}
		},
	}, {
		name:   "ctx cancelled during RETR",
		opts:   &Options{Timeout: time.Minute},
		script: script(hello(), []step{{expect: "RETR 1", send: []string{"+OK\r\npartial\r\n"}, then: goSilent}}),
		check: func(t *testing.T, c *Client, _ *scriptServer) {
			cctx, cancel := context.WithCancel(ctx)
			time.AfterFunc(100*time.Millisecond, cancel)
			start := time.Now()
			_, err := c.Retr(cctx, 1, io.Discard)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Retr: %v; want context.Canceled", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Retr took %v to notice the cancellation", d)
			}
			if err := c.Noop(ctx); err == nil {
				t.Error("Noop succeeded after a cancelled Retr")
			}
		},
	}, {
		name:   "writer fails",
		script: script(hello(), []step{say("RETR 1", okBody("data\r\n"))}),
		check: func(t *testing.T, c *Client, s *scriptServer) {
			_, err := c.Retr(ctx, 1, failWriter{})
			if !errors.Is(err, errDiskFull) {
				t.Fatalf("Retr: %v; want the writer's error", err)
			}
			if err := c.Quit(ctx); err == nil {
				t.Error("Quit succeeded after a failed Retr")
			}
			wantEnded(t, c, s)
		},
	}, {
		name:   "message number out of range",
		script: script(hello(), []step{say("NOOP", "+OK\r\n")}),
		check: func(t *testing.T, c *Client, _ *scriptServer) {
			for _, num := range []int{0, -1, maxMessages + 1} {
				if _, err := c.Retr(ctx, num, io.Discard); !errors.Is(err, errBadArgument) {
					t.Errorf("Retr(%d): %v; want a bad argument", num, err)
				}
			}
			if _, err := c.Top(ctx, 1, -1, io.Discard); !errors.Is(err, errBadArgument) {
				t.Errorf("Top(1, -1): %v; want a bad argument", err)
			}
			wantNoop(t, c)
		},
	}}
}

var errDiskFull = errors.New("disk full")

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errDiskFull }

func listingCases() []dialogCase {
	cases := []dialogCase{{
		name:   "STAT",
		script: script(hello(), []step{say("STAT", "+OK 2 320 and some text\r\n")}),
		check: func(t *testing.T, c *Client, _ *scriptServer) {
			if n, size, err := c.Stat(ctx); n != 2 || size != 320 || err != nil {
				t.Errorf("Stat = %d, %d, %v; want 2, 320", n, size, err)
			}
		},
	}, {
		name: "duplicate UIDs",
		script: script(hello(), []step{
			say("UIDL", "+OK\r\n2 same\r\n1 same\r\n3 other\r\n.\r\n"),
			say("LIST", "+OK 3 messages\r\n1 100\r\n2 200\r\n3 300\r\n.\r\n"),
		}),
		check: func(t *testing.T, c *Client, _ *scriptServer) {
			got, err := c.UIDL(ctx)
			want := []Entry{{1, "same", 100}, {2, "same", 200}, {3, "other", 300}}
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("UIDL = %v, %v; want %v", got, err, want)
			}
		},
	}, {
		name:   "empty maildrop",
		script: script(hello(), []step{say("UIDL", "+OK\r\n.\r\n"), say("LIST", "+OK\r\n.\r\n")}),
		check: func(t *testing.T, c *Client, _ *scriptServer) {
			if got, err := c.UIDL(ctx); err != nil || len(got) != 0 {
				t.Errorf("UIDL = %v, %v; want nothing", got, err)
			}
		},
	}, {
		name:   "UIDL -ERR",
		script: script(hello(), []step{say("UIDL", "-ERR unknown command\r\n"), say("NOOP", "+OK\r\n")}),
		check: func(t *testing.T, c *Client, _ *scriptServer) {
			_, err := c.UIDL(ctx)
			if !errors.Is(err, ErrNoUIDL) {
				t.Fatalf("UIDL: %v; want ErrNoUIDL", err)
			}
			wantServerError(t, err, "UIDL", "")
			wantNoop(t, c)
		},
	}}
	for _, bad := range []struct{ name, uidl, list string }{
		{"message listed twice", "1 a\r\n1 b\r\n", ""},
		{"message number 0", "0 a\r\n", ""},
		{"UID with a space", "1 a b\r\n", ""},
		{"UIDL line too long", "1 " + strings.Repeat("u", maxLineLen) + "\r\n", ""},
		{"LIST lacks a message", "1 a\r\n2 b\r\n", "1 10\r\n"},
		{"UIDL lacks a message", "1 a\r\n", "1 10\r\n2 20\r\n"},
		{"negative size", "1 a\r\n", "1 -10\r\n"},
	} {
		steps := []step{say("UIDL", "+OK\r\n"+bad.uidl+".\r\n")}
		if bad.list != "" { // the client reads the whole UIDL answer before it sends LIST
			steps = append(steps, say("LIST", "+OK\r\n"+bad.list+".\r\n"))
		}
		cases = append(cases, dialogCase{
			name:   "UIDL: " + bad.name,
			script: script(hello(), steps),
			check: func(t *testing.T, c *Client, _ *scriptServer) {
				if got, err := c.UIDL(ctx); !errors.Is(err, errProtocol) {
					t.Errorf("UIDL = %v, %v; want a protocol violation", got, err)
				}
			},
		})
	}
	for _, answer := range []string{
		"+OK",
		"+OK 3",
		"+OK 99999999999999999999999 100",
		"+OK 5000000 100",
		"+OK -1 0",
		"+OK 1 -5",
		"+OK +1 5",
		"+OK 0x10 5",
		"+OK 1e3 5",
		"+OK 1 18446744073709551616",
		"+OK " + strings.Repeat("9", 40000),
	} {
		cases = append(cases, dialogCase{
			name:   "STAT answer " + quote(answer),
			script: script(hello(), []step{say("STAT", answer+"\r\n")}),
			check: func(t *testing.T, c *Client, s *scriptServer) {
				n, size, err := c.Stat(ctx)
				if !errors.Is(err, errProtocol) || n != 0 || size != 0 {
					t.Errorf("Stat = %d, %d, %v; want a protocol violation", n, size, err)
				}
				wantEnded(t, c, s)
			},
		})
	}
	return cases
}

func authCases() []dialogCase {
	return []dialogCase{{
		name: "SASL PLAIN",
		script: script(hello("USER", "SASL PLAIN LOGIN"), []step{
			say("AUTH PLAIN "+b64("\x00bob\x00wrong"), "-ERR [AUTH] Authentication failed.\r\n"),
			say("AUTH PLAIN "+b64("\x00bob\x00right"), "+OK Logged in.\r\n"),
		}),
		check: func(t *testing.T, c *Client, _ *scriptServer) {
			err := auth(ctx, c, "bob", "wrong")
			if !errors.Is(err, ErrAuth) {
				t.Fatalf("Auth with a wrong password: %v; want ErrAuth", err)
			}
			wantServerError(t, err, "AUTH", "AUTH")
			if err := auth(ctx, c, "bob", "right"); err != nil {
				t.Fatalf("Auth: %v", err)
			}
		},
	}, {
		name: "USER and PASS",
		script: script(hello("USER", "SASL LOGIN"), []step{
			say("USER bob", "+OK\r\n"),
			say("PASS wrong", "-ERR [AUTH] Authentication failed.\r\n"),
			say("USER bob", "+OK\r\n"),
			say("PASS right pass", "+OK Logged in.\r\n"),
		}),
		check: func(t *testing.T, c *Client, _ *scriptServer) {
			if err := auth(ctx, c, "bob", "wrong"); !errors.Is(err, ErrAuth) {
				t.Fatalf("Auth with a wrong password: %v; want ErrAuth", err)
			}
			if err := auth(ctx, c, "bob", "right pass"); err != nil {
				t.Fatalf("Auth: %v", err)
			}
		},
	}, {
		name: "maildrop in use",
		script: script(hello("USER"), []step{
			say("USER bob", "+OK\r\n"),
			say("PASS pw", "-ERR [IN-USE] Mailbox is locked by another POP3 session\r\n"),
		}),
		check: func(t *testing.T, c *Client, _ *scriptServer) {
			err := auth(ctx, c, "bob", "pw")
			if err == nil || errors.Is(err, ErrAuth) {
				t.Fatalf("Auth: %v; want a temporary error, not ErrAuth", err)
			}
			wantServerError(t, err, "PASS", "IN-USE")
		},
	}, {
		name: "SASL challenge is cancelled",
		script: script(hello("SASL XOAUTH2"), []step{
			say("AUTH XOAUTH2 "+b64("token"), "+ "+b64(`{"status":"400"}`)+"\r\n"),
			say("*", "-ERR [AUTH] Authentication failed\r\n"),
		}),
		check: func(t *testing.T, c *Client, _ *scriptServer) {
			err := c.AuthSASL(ctx, "XOAUTH2", []byte("token"))
			if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), `\"status\":\"400\"`) {
				t.Fatalf("AuthSASL: %v; want ErrAuth with the challenge", err)
			}
		},
	}, {
		name: "SASL initial response too long for the AUTH line",
		script: script(hello("SASL XOAUTH2"), []step{
			say("AUTH XOAUTH2", "+ \r\n"),
			say(b64(strings.Repeat("t", 300)), "+OK\r\n"),
		}),
		check: func(t *testing.T, c *Client, _ *scriptServer) {
			if err := c.AuthSASL(ctx, "XOAUTH2", []byte(strings.Repeat("t", 300))); err != nil {
				t.Fatalf("AuthSASL: %v", err)
			}
		},
	}, {
		name:   "arguments that would inject a command",
		script: script(hello("USER"), []step{say("NOOP", "+OK\r\n")}),
		check: func(t *testing.T, c *Client, _ *scriptServer) {
			if err := auth(ctx, c, "bob\r\nDELE 1", "pw"); !errors.Is(err, errBadArgument) {
				t.Errorf("Auth: %v; want a bad argument", err)
			}
			if err := c.AuthSASL(ctx, "PLAIN X", nil); !errors.Is(err, errBadArgument) {
				t.Errorf("AuthSASL: %v; want a bad argument", err)
			}
			wantNoop(t, c)
		},
	}}
}

func endCases() []dialogCase {
	return []dialogCase{{
		name: "QUIT +OK",
		script: script(hello(), []step{
			say("DELE 1", "+OK Marked to be deleted.\r\n"),
			say("RSET", "+OK\r\n"),
			say("DELE 2", "+OK Marked to be deleted.\r\n"),
			say("QUIT", "+OK Logging out, messages deleted.\r\n"),
		}),
		check: func(t *testing.T, c *Client, s *scriptServer) {
			for _, err := range []error{c.Dele(ctx, 1), c.Rset(ctx), c.Dele(ctx, 2), c.Quit(ctx)} {
				if err != nil {
					t.Fatal(err)
				}
			}
			wantEnded(t, c, s)
		},
	}, {
		name: "QUIT -ERR",
		script: script(hello(), []step{
			say("DELE 1", "+OK\r\n"),
			say("QUIT", "-ERR [SYS/TEMP] Failed to delete messages\r\n"),
		}),
		check: func(t *testing.T, c *Client, s *scriptServer) {
			if err := c.Dele(ctx, 1); err != nil {
				t.Fatal(err)
			}
			err := c.Quit(ctx)
			wantServerError(t, err, "QUIT", "SYS/TEMP")
			wantEnded(t, c, s)
		},
	}, {
		name:   "QUIT unanswered",
		script: script(hello(), []step{{expect: "QUIT", then: hangUp}}),
		check: func(t *testing.T, c *Client, _ *scriptServer) {
			err := c.Quit(ctx)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("Quit: %v; want io.ErrUnexpectedEOF", err)
			}
		},
	}, {
		name:   "Close without QUIT",
		script: script(hello(), []step{say("DELE 1", "+OK\r\n")}),
		check: func(t *testing.T, c *Client, s *scriptServer) {
			if err := c.Dele(ctx, 1); err != nil {
				t.Fatal(err)
			}
			if err := c.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := c.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			wantEnded(t, c, s)
		},
	}}
}
