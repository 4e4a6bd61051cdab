package dovecottest_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/internal/dovecottest"
)

func TestStartServesIMAPAndPOP3(t *testing.T) {
	t.Parallel()
	s := dovecottest.Start(t, dovecottest.Options{})
	c := s.Dial(t, "alice")
	for _, want := range []imap.Cap{imap.CapCondStore, imap.CapUIDPlus, imap.CapLiteralPlus} {
		if !c.Caps().Has(want) {
			t.Errorf("capability %s not advertised after login: %v", want, c.Caps())
		}
	}
	for i := range 3 {
		appendMsg(t, c, "INBOX", "Subject: pop3 test "+string(rune('a'+i))+"\r\n\r\nbody\r\n")
	}
	p := dialPOP3(t, s.POP3Addr, "alice", s.Password("alice"))
	if got := p.cmd(t, "STAT"); !strings.HasPrefix(got, "3 ") {
		t.Errorf("STAT = %q, want 3 messages\n%s", got, s.LogTail(20))
	}
	md := s.MailDir("alice")
	if n := countFiles(t, filepath.Join(md, "new")) + countFiles(t, filepath.Join(md, "cur")); n != 3 {
		t.Errorf("MailDir(alice) = %s holds %d messages, want 3", md, n)
	}
}

func TestUsersAreSeparateAndNeedTheirPassword(t *testing.T) {
	t.Parallel()
	s := dovecottest.Start(t, dovecottest.Options{Users: []string{"dave", "erin"}})
	appendMsg(t, s.Dial(t, "dave"), "INBOX", "Subject: for dave\r\n\r\nx\r\n")
	st, err := s.Dial(t, "erin").Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil || *st.NumMessages != 0 {
		t.Errorf("erin's INBOX: %v messages, err %v; want 0", st, err)
	}
	c, err := imapclient.DialInsecure(s.IMAPAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("dave", "wrong").Wait(); err == nil {
		t.Error("login with a wrong password succeeded")
	}
}

func TestTLSListeners(t *testing.T) {
	t.Parallel()
	s := dovecottest.Start(t, dovecottest.Options{TLS: true})
	cfg := tlsConfig(t, s.CACert)
	c, err := imapclient.DialTLS(s.IMAPSAddr, &imapclient.Options{TLSConfig: cfg})
	if err != nil {
		t.Fatalf("IMAPS: %v", err)
	}
	defer c.Close()
	if err := c.Login("bob", s.Password("bob")).Wait(); err != nil {
		t.Fatalf("IMAPS login: %v\n%s", err, s.LogTail(20))
	}
	st, err := imapclient.DialStartTLS(s.IMAPAddr, &imapclient.Options{TLSConfig: cfg})
	if err != nil {
		t.Fatalf("IMAP STARTTLS: %v", err)
	}
	st.Close()
	conn, err := tls.Dial("tcp", s.POP3SAddr, cfg)
	if err != nil {
		t.Fatalf("POP3S: %v", err)
	}
	defer conn.Close()
	if line, err := bufio.NewReader(conn).ReadString('\n'); !strings.HasPrefix(line, "+OK") {
		t.Errorf("POP3S greeting %q, %v", line, err)
	}
}

func TestTLSRejectsUntrustedClients(t *testing.T) {
	t.Parallel()
	s := dovecottest.Start(t, dovecottest.Options{TLS: true})
	conn, err := tls.Dial("tcp", s.IMAPSAddr, &tls.Config{RootCAs: x509.NewCertPool()})
	if err == nil {
		conn.Close()
		t.Fatal("handshake succeeded without trusting CACert")
	}
}

func tlsConfig(t *testing.T, caFile string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", caFile)
	}
	return &tls.Config{RootCAs: pool}
}

func appendMsg(t *testing.T, c *imapclient.Client, mbox, raw string) *imap.AppendData {
	t.Helper()
	return appendMsgWith(t, c, mbox, raw, nil)
}

func appendMsgWith(t *testing.T, c *imapclient.Client, mbox, raw string, opts *imap.AppendOptions) *imap.AppendData {
	t.Helper()
	cmd := c.Append(mbox, int64(len(raw)), opts)
	if _, err := cmd.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := cmd.Wait()
	if err != nil {
		t.Fatalf("append to %s: %v", mbox, err)
	}
	return data
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return len(entries)
}

// pop3 is a minimal hand-made POP3 client for single-line commands.
type pop3 struct{ *textproto.Conn }

func dialPOP3(t *testing.T, addr, user, pass string) pop3 {
	t.Helper()
	tc, err := textproto.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tc.Close() })
	p := pop3{tc}
	p.reply(t)
	p.cmd(t, "USER "+user)
	p.cmd(t, "PASS "+pass)
	return p
}

func (p pop3) cmd(t *testing.T, line string) string {
	t.Helper()
	if err := p.PrintfLine("%s", line); err != nil {
		t.Fatal(err)
	}
	return p.reply(t)
}

func (p pop3) reply(t *testing.T) string {
	t.Helper()
	line, err := p.ReadLine()
	if err != nil {
		t.Fatal(err)
	}
	rest, ok := strings.CutPrefix(line, "+OK")
	if !ok {
		t.Fatalf("POP3 reply %q", line)
	}
	return strings.TrimSpace(rest)
}

func TestMailLocationOption(t *testing.T) {
	t.Parallel()
	s := dovecottest.Start(t, dovecottest.Options{Users: []string{"frank"}, MailLocation: "maildir:%h/mail:LAYOUT=fs"})
	c := s.Dial(t, "frank")
	if err := c.Create("Archive/2024", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	appendMsg(t, c, "Archive/2024", "Subject: fs layout\r\n\r\nx\r\n")
	dir := filepath.Join(s.MailDir("frank"), "Archive", "2024")
	if n := countFiles(t, filepath.Join(dir, "new")) + countFiles(t, filepath.Join(dir, "cur")); n != 1 {
		t.Errorf("%s holds %d messages, want 1", dir, n)
	}
}

func TestAnyNameLocation(t *testing.T) {
	t.Parallel()
	s := dovecottest.Start(t, dovecottest.Options{MailLocation: dovecottest.AnyNameLocation})
	c := s.Dial(t, "carol")
	names := []string{".hidden", "a.b", "cur", "x/tmp"}
	for _, n := range names {
		if err := c.Create(n, nil).Wait(); err != nil {
			t.Errorf("create %q: %v", n, err)
		}
	}
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, l := range list {
		got[l.Mailbox] = true
	}
	for _, n := range names {
		if !got[n] {
			t.Errorf("LIST lacks %q", n)
		}
	}
}

// TestNamespaceOptions: a Dovecot with the INBOX. prefix and "." as its
// separator, whose special-use folders have other names and exist from
// the first login.
func TestNamespaceOptions(t *testing.T) {
	t.Parallel()
	s := dovecottest.Start(t, dovecottest.Options{Prefix: "INBOX.", Separator: ".",
		SpecialUse: map[string]string{"Sent Items": `\Sent`, "Deleted Items": `\Trash`}})
	if s.Prefix != "INBOX." || s.Delim != '.' {
		t.Errorf("server says prefix %q, delimiter %q", s.Prefix, s.Delim)
	}
	c := s.Dial(t, "alice")
	ns, err := c.Namespace().Wait()
	if err != nil || len(ns.Personal) != 1 || ns.Personal[0].Prefix != "INBOX." || ns.Personal[0].Delim != '.' {
		t.Fatalf("NAMESPACE: %+v, %v", ns, err)
	}
	if err := c.Create("Outside", nil).Wait(); err == nil {
		t.Error("a folder outside the prefix was created")
	}
	if err := c.Create("INBOX.Archive.2024", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	list, err := c.List("", "*", &imap.ListOptions{ReturnSpecialUse: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, l := range list {
		got[l.Mailbox] = ""
		for _, a := range l.Attrs {
			if a == imap.MailboxAttrSent || a == imap.MailboxAttrTrash {
				got[l.Mailbox] = string(a)
			}
		}
	}
	want := map[string]string{"INBOX": "", "INBOX.Sent Items": `\Sent`, "INBOX.Deleted Items": `\Trash`,
		"INBOX.Archive": "", "INBOX.Archive.2024": ""}
	if len(got) != len(want) {
		t.Errorf("LIST: %v, want %v", got, want)
	}
	for name, use := range want {
		if u, ok := got[name]; !ok || u != use {
			t.Errorf("LIST: %q has %q (listed %v), want %q", name, u, ok, use)
		}
	}
}
