package pop3

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/internal/dovecottest"
)

// longLine is one 10,000-byte line, longer than go-pop3's 4096-byte buffer.
var longLine = strings.Repeat("0123456789", 1000)

// specialMessage has what a careless POP3 client alters: lines that start
// with dots (a lone "." among them), a 10,000-byte line and 8-bit bytes
// 0x80-0xff (no NUL, no bare CR or LF, which Dovecot would rewrite).
func specialMessage() []byte {
	var b bytes.Buffer
	b.WriteString("From: Alice <alice@example.org>\r\n" +
		"To: Bob <bob@example.org>\r\n" +
		"Subject: dots, a long line and 8-bit bytes\r\n" +
		"Message-ID: <special@example.org>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: application/octet-stream\r\n" +
		"Content-Transfer-Encoding: 8bit\r\n" +
		"\r\n" +
		".\r\n" +
		"..\r\n" +
		".leading dot\r\n" +
		"..two leading dots\r\n" +
		"...\r\n")
	b.WriteString(longLine + "\r\n")
	for range 4 {
		for c := 0x80; c <= 0xff; c++ {
			b.WriteByte(byte(c))
		}
		b.WriteString("\r\n")
	}
	b.WriteString(".\r\nlast line\r\n")
	return b.Bytes()
}

func ordinaryMessage(i int) []byte {
	return fmt.Appendf(nil, "From: alice@example.org\r\nTo: bob@example.org\r\n"+
		"Subject: ordinary %d\r\nMessage-ID: <ordinary-%d@example.org>\r\n\r\n"+
		"Hello Bob,\r\n\r\nthis is message %d.\r\n-- \r\nAlice\r\n", i, i, i)
}

// appendMessages stores msgs in user's INBOX over IMAP, in order.
func appendMessages(t *testing.T, s *dovecottest.Server, user string, msgs [][]byte) []*imap.AppendData {
	t.Helper()
	c := s.Dial(t, user)
	var out []*imap.AppendData
	for _, m := range msgs {
		cmd := c.Append("INBOX", int64(len(m)), nil)
		if _, err := cmd.Write(m); err != nil {
			t.Fatalf("append: %v", err)
		}
		if err := cmd.Close(); err != nil {
			t.Fatalf("append: %v", err)
		}
		data, err := cmd.Wait()
		if err != nil {
			t.Fatalf("append: %v", err)
		}
		out = append(out, data)
	}
	return out
}

// imapMessage is what IMAP says about a message.
type imapMessage struct {
	uid   imap.UID
	flags []imap.Flag
	body  []byte // BODY.PEEK[]
}

// fetchAll returns user's INBOX over a new IMAP session, in sequence order
// (which is Dovecot's POP3 order).
func fetchAll(t *testing.T, s *dovecottest.Server, user string) []imapMessage {
	t.Helper()
	c := s.Dial(t, user)
	sel, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("select: %v", err)
	}
	if sel.NumMessages == 0 {
		return nil
	}
	var all imap.SeqSet
	all.AddRange(1, 0)
	section := &imap.FetchItemBodySection{Peek: true}
	bufs, err := c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true,
		BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	slices.SortFunc(bufs, func(a, b *imapclient.FetchMessageBuffer) int { return int(a.SeqNum) - int(b.SeqNum) })
	var out []imapMessage
	for _, b := range bufs {
		out = append(out, imapMessage{uid: b.UID, flags: b.Flags, body: b.FindBodySection(section)})
	}
	return out
}

func dialDovecot(t *testing.T, s *dovecottest.Server, user string) *Client {
	t.Helper()
	c, err := dial(ctx, s.POP3Addr, plainText, nil, &Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := auth(ctx, c, user, s.Password(user)); err != nil {
		t.Fatalf("auth: %v\n%s", err, s.LogTail(20))
	}
	return c
}

func wantStat(t *testing.T, s *dovecottest.Server, user string, want int) {
	t.Helper()
	c := dialDovecot(t, s, user)
	if n, _, err := c.Stat(ctx); err != nil || n != want {
		t.Fatalf("STAT on a new session = %d, %v; want %d", n, err, want)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestDovecot(t *testing.T) {
	t.Parallel()
	s := dovecottest.Start(t, dovecottest.Options{})
	t.Run("byte-exact, DELE then Close keeps, DELE then QUIT deletes", func(t *testing.T) {
		testByteExact(t, s, "bob")
	})
	t.Run("RETR marks seen, TOP does not", func(t *testing.T) { testSeen(t, s, "alice") })
	t.Run("wrong password", func(t *testing.T) {
		c, err := dial(ctx, s.POP3Addr, plainText, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		err = auth(ctx, c, "carol", "wrong")
		if !errors.Is(err, ErrAuth) {
			t.Errorf("Auth with a wrong password: %v; want ErrAuth", err)
		}
		if err := auth(ctx, c, "carol", s.Password("carol")); err != nil {
			t.Errorf("Auth after a failed attempt: %v", err)
		}
	})
}

func testByteExact(t *testing.T, s *dovecottest.Server, user string) {
	msgs := [][]byte{ordinaryMessage(1), specialMessage(), ordinaryMessage(2), ordinaryMessage(3)}
	appended := appendMessages(t, s, user, msgs)
	stored := fetchAll(t, s, user)
	if len(stored) != len(msgs) {
		t.Fatalf("IMAP shows %d messages, want %d", len(stored), len(msgs))
	}

	c := dialDovecot(t, s, user)
	if _, ok := c.Capabilities()["UIDL"]; !ok {
		t.Errorf("Capabilities() = %q, want UIDL", c.Capabilities())
	}
	entries, err := c.UIDL(ctx)
	if err != nil || len(entries) != len(msgs) {
		t.Fatalf("UIDL = %v, %v", entries, err)
	}
	for i, e := range entries {
		// pop3_uidl_format = %08Xu%08Xv: IMAP UID and UIDVALIDITY in
		// lower-case hex, despite the X.
		wantUID := fmt.Sprintf("%08x%08x", uint32(appended[i].UID), appended[i].UIDValidity)
		if e.Num != i+1 || e.UID != wantUID || e.Size != int64(len(stored[i].body)) {
			t.Errorf("entry %d = %+v, want UID %s, size %d", i, e, wantUID, len(stored[i].body))
		}
		var b bytes.Buffer
		n, err := c.Retr(ctx, e.Num, &b)
		if err != nil {
			t.Fatalf("Retr %d: %v", e.Num, err)
		}
		if !bytes.Equal(b.Bytes(), stored[i].body) || n != int64(b.Len()) {
			t.Errorf("Retr %d differs from IMAP BODY[] (%d bytes vs %d)", e.Num, b.Len(), len(stored[i].body))
		}
		if !bytes.Equal(b.Bytes(), msgs[i]) {
			t.Errorf("Retr %d differs from the message appended", e.Num)
		}
	}

	// DELE without QUIT: nothing is deleted.
	for _, e := range entries {
		if err := c.Dele(ctx, e.Num); err != nil {
			t.Fatal(err)
		}
	}
	if n, _, err := c.Stat(ctx); err != nil || n != 0 {
		t.Errorf("STAT after DELE of all = %d, %v; want 0 in this session", n, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	wantStat(t, s, user, len(msgs))

	// DELE and QUIT: all gone.
	c = dialDovecot(t, s, user)
	again, err := c.UIDL(ctx)
	if err != nil || !slices.Equal(again, entries) {
		t.Fatalf("UIDL after the dropped session = %v, %v; want %v", again, err, entries)
	}
	for _, e := range entries {
		if err := c.Dele(ctx, e.Num); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatalf("Quit: %v", err)
	}
	wantStat(t, s, user, 0)
	if left := fetchAll(t, s, user); len(left) != 0 {
		t.Errorf("IMAP still shows %d messages after DELE and QUIT", len(left))
	}
}

func testSeen(t *testing.T, s *dovecottest.Server, user string) {
	appendMessages(t, s, user, [][]byte{ordinaryMessage(1), ordinaryMessage(2)})
	c := dialDovecot(t, s, user)
	var b bytes.Buffer
	if _, err := c.Retr(ctx, 1, &b); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	if _, err := c.Top(ctx, 2, 0, &b); err != nil {
		t.Fatal(err)
	}
	if header, _, _ := bytes.Cut(ordinaryMessage(2), []byte("\r\n\r\n")); b.String() != string(header)+"\r\n\r\n" {
		t.Errorf("Top 2 0 = %q, want the header and the blank line", b.String())
	}
	c.Close() // no QUIT
	stored := fetchAll(t, s, user)
	if !slices.Contains(stored[0].flags, imap.FlagSeen) || slices.Contains(stored[1].flags, imap.FlagSeen) {
		t.Errorf("flags after RETR 1, TOP 2 and no QUIT: %v, %v; want \\Seen on the first only",
			stored[0].flags, stored[1].flags)
	}
}

func TestDovecotTLS(t *testing.T) {
	t.Parallel()
	s := dovecottest.Start(t, dovecottest.Options{TLS: true})
	pem, err := os.ReadFile(s.CACert)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	appendMessages(t, s, "bob", [][]byte{specialMessage()})

	for _, tc := range []struct {
		name string
		mode tlsMode
		addr string
	}{{"implicit", implicitTLS, s.POP3SAddr}, {"stls", stls, s.POP3Addr}} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := dial(ctx, tc.addr, tc.mode, &tls.Config{RootCAs: roots}, nil)
			if err != nil {
				t.Fatalf("Dial: %v\n%s", err, s.LogTail(20))
			}
			defer c.Close()
			if _, ok := c.Capabilities()["STLS"]; ok {
				t.Errorf("STLS still advertised over TLS: %q", c.Capabilities())
			}
			if err := auth(ctx, c, "bob", s.Password("bob")); err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if _, err := c.Retr(ctx, 1, &b); err != nil || !bytes.Equal(b.Bytes(), specialMessage()) {
				t.Errorf("Retr over TLS: %v, equal %v", err, bytes.Equal(b.Bytes(), specialMessage()))
			}
			if err := c.Quit(ctx); err != nil {
				t.Error(err)
			}
		})
	}

	// Without the test CA the certificate is refused.
	_, err = dial(ctx, s.POP3SAddr, implicitTLS, nil, nil)
	var verr *tls.CertificateVerificationError
	if !errors.As(err, &verr) {
		t.Errorf("Dial without trusting the test CA: %v; want a certificate verification error", err)
	}
}
