package serve_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/serve"
)

// TestSameAsSource backs up a corpus and compares what serve offers with
// the source account, folder by folder and message by message: names and
// delimiter, UIDVALIDITY and UIDs, bytes, flags and keywords, dates and
// sizes.
func TestSameAsSource(t *testing.T) {
	t.Parallel()
	src := newSource(t, corpus.Generate(corpus.Options{Seed: 3, Count: 150}))
	sv := startServe(t, src.root, serve.Options{Accounts: []string{src.user}})
	want := accountState(t, src.dovecot.Dial(t, src.user), false)
	got := accountState(t, sv.dial(t, src.user), true)
	if len(want) < 8 {
		t.Fatalf("the source has %d folders", len(want))
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("folder %q missing; serve has %v", name, keys(got))
			continue
		}
		if d := diffFolder(g, w); d != "" {
			t.Errorf("folder %q: %s", name, d)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("serve has folder %q, the source has not", name)
		}
	}
}

// folderState is a folder as a client sees it: its delimiter and
// UIDVALIDITY, and per UID a line with the message's hash, size, flags
// and INTERNALDATE.
type folderState struct {
	delim       rune
	uidValidity uint32
	msgs        map[imap.UID]string
}

func accountState(t *testing.T, c *imapclient.Client, served bool) map[string]folderState {
	t.Helper()
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]folderState{}
	for _, l := range list {
		if slices.Contains(l.Attrs, imap.MailboxAttrNoSelect) || served && strings.HasPrefix(l.Mailbox, "mailkeep/") {
			continue
		}
		sel, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			t.Fatalf("examine %q: %v", l.Mailbox, err)
		}
		f := folderState{delim: l.Delim, uidValidity: sel.UIDValidity, msgs: map[imap.UID]string{}}
		if sel.NumMessages > 0 {
			fetchLines(t, c, f.msgs)
		}
		out[l.Mailbox] = f
	}
	return out
}

func fetchLines(t *testing.T, c *imapclient.Client, into map[imap.UID]string) {
	t.Helper()
	msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true, InternalDate: true,
		RFC822Size: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		body := m.FindBodySection(&imap.FetchItemBodySection{Peek: true})
		var flags []string
		for _, f := range m.Flags {
			if f != `\Recent` {
				flags = append(flags, string(f))
			}
		}
		slices.Sort(flags)
		into[m.UID] = fmt.Sprintf("%x %d/%d %v %s", sha256.Sum256(body), len(body), m.RFC822Size, flags,
			m.InternalDate.Format(time.RFC3339))
	}
}

func diffFolder(got, want folderState) string {
	var d []string
	if got.delim != want.delim || got.uidValidity != want.uidValidity {
		d = append(d, fmt.Sprintf("delimiter %q, UIDVALIDITY %d; want %q, %d", got.delim, got.uidValidity, want.delim, want.uidValidity))
	}
	for uid, w := range want.msgs {
		if g := got.msgs[uid]; g != w {
			d = append(d, fmt.Sprintf("UID %d: %q, want %q", uid, g, w))
		}
	}
	if len(got.msgs) != len(want.msgs) {
		d = append(d, fmt.Sprintf("%d messages, want %d", len(got.msgs), len(want.msgs)))
	}
	return strings.Join(d, "; ")
}

func keys[V any](m map[string]V) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}

// TestReadOnly: SELECT answers READ-ONLY, every writing command is
// refused with NO and says why, CLOSE closes, a FETCH of BODY[] sets no
// \Seen, and the archive's files are the same, byte for byte and by
// modification time, after all of it.
func TestReadOnly(t *testing.T) {
	t.Parallel()
	src := newSource(t, corpus.Generate(corpus.Options{Seed: 4, Count: 20}))
	before := treeHashes(t, filepath.Join(src.root, src.user))
	sv := startServe(t, src.root, serve.Options{Accounts: []string{src.user}})
	r := loginRaw(t, sv.addr, src.user, password)
	if _, st := r.do("SELECT INBOX"); !strings.HasPrefix(st, "OK [READ-ONLY]") {
		t.Errorf("SELECT: %s", st)
	}
	flags, _ := r.do("FETCH 1:* FLAGS")
	for _, cmd := range []string{
		`STORE 1 +FLAGS (\Seen)`, `UID STORE 1:* FLAGS ()`, `STORE 1:2 -FLAGS.SILENT (\Flagged)`,
		`APPEND INBOX {5+}` + "\r\nhello", `APPEND Sent (\Seen) "01-Jan-2024 10:00:00 +0000" {3+}` + "\r\nabc",
		`COPY 1 Sent`, `UID COPY 1:* Sent`, `MOVE 1 Sent`, `UID MOVE 1 Sent`,
		`EXPUNGE`, `UID EXPUNGE 1:*`, `CREATE New`, `CREATE INBOX/sub`, `DELETE INBOX`, `DELETE Sent`,
		`RENAME Sent Sent2`, `UNSUBSCRIBE INBOX`, `SUBSCRIBE Nowhere`,
	} {
		if _, st := r.do(cmd); !strings.HasPrefix(st, "NO [CANNOT]") || !strings.Contains(st, "read-only") {
			t.Errorf("%s: %s", strings.SplitN(cmd, "\r\n", 2)[0], st)
		}
	}
	if _, st := r.do("SUBSCRIBE INBOX"); !strings.HasPrefix(st, "OK") {
		t.Errorf("SUBSCRIBE to a folder that counts as subscribed: %s", st)
	}
	r.do("FETCH 1:* (BODY[] RFC822.TEXT BODY[HEADER])")
	if after, _ := r.do("FETCH 1:* FLAGS"); !slices.Equal(after, flags) {
		t.Errorf("flags changed by fetching: %q, then %q", flags, after)
	}
	if _, st := r.do("CLOSE"); !strings.HasPrefix(st, "OK") {
		t.Errorf("CLOSE: %s", st)
	}
	if _, st := r.do("FETCH 1 FLAGS"); !strings.HasPrefix(st, "BAD") {
		t.Errorf("FETCH after CLOSE: %s", st)
	}
	r.do("LOGOUT")
	c := sv.dial(t, src.user)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close(); err == nil {
		t.Error("imapclient: STORE accepted")
	}
	c.Logout().Wait()
	if after := treeHashes(t, filepath.Join(src.root, src.user)); !slices.Equal(before, after) {
		t.Errorf("serving changed the archive:\n%s", diffLines(after, before))
	}
}

// treeHashes lists every file under dir with its mode, modification time
// and SHA-256. The catalog's -shm file is left out: it is SQLite's shared
// memory of the WAL, which every reader maps, not the archive's content.
func treeHashes(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || strings.HasSuffix(p, "-shm") {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		sum := ""
		if d.Type().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum = fmt.Sprintf("%x", sha256.Sum256(data))
		}
		out = append(out, fmt.Sprintf("%s %v %d %s", strings.TrimPrefix(p, dir), info.Mode(), info.ModTime().UnixNano(), sum))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLogin: the user name is the account's, the password serve's; a
// wrong one is refused after the delay and logged without the password.
func TestLogin(t *testing.T) {
	t.Parallel()
	src := newSource(t, corpus.Generate(corpus.Options{Seed: 5}))
	delay := 300 * time.Millisecond
	sv := startServe(t, src.root, serve.Options{Accounts: []string{src.user, "noarchive"}, LoginDelay: delay})
	for _, tt := range []struct{ user, pass, want string }{
		{src.user, "wrong-" + password, "NO [AUTHENTICATIONFAILED]"},
		{"mallory", password, "NO [AUTHENTICATIONFAILED]"},
		{"noarchive", password, "NO [UNAVAILABLE]"},
		{"ALICE", password, "OK"},
	} {
		r := dialRaw(t, sv.addr)
		start := time.Now()
		_, st := r.do(fmt.Sprintf("LOGIN %s %s", tt.user, tt.pass))
		took := time.Since(start)
		if !strings.HasPrefix(st, tt.want) {
			t.Errorf("login %s: %s, want %s", tt.user, st, tt.want)
		}
		if refused := strings.Contains(tt.want, "AUTH"); refused != (took >= delay) {
			t.Errorf("login %s took %v (delay %v)", tt.user, took, delay)
		}
	}
	logs := sv.log.String()
	if strings.Contains(logs, "wrong-"+password) {
		t.Errorf("the log holds the password:\n%s", logs)
	}
	if strings.Count(logs, "login refused") != 2 || !strings.Contains(logs, "user=mallory") {
		t.Errorf("refused logins not logged:\n%s", logs)
	}
	r := dialRaw(t, sv.addr)
	if _, st := r.do("FETCH 1 BODY[]"); !strings.HasPrefix(st, "BAD") {
		t.Errorf("FETCH before login: %s", st)
	}
	if _, st := r.do("SELECT INBOX"); !strings.HasPrefix(st, "BAD") {
		t.Errorf("SELECT before login: %s", st)
	}
}

// TestListen: without TLS only loopback addresses are served; with a
// certificate any address, in TLS from the first byte.
func TestListen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:0"} {
		ln, err := serve.Listen(ctx, addr, nil)
		if !errors.Is(err, serve.ErrNotLoopback) || !strings.Contains(fmt.Sprint(err), "clear text") {
			t.Errorf("Listen(%s) without TLS: %v", addr, err)
		}
		if ln != nil {
			ln.Close()
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0", "[::1]:0"} {
		ln, err := serve.Listen(ctx, addr, nil)
		if err != nil {
			if addr == "[::1]:0" && strings.Contains(err.Error(), "assign requested address") {
				continue // no IPv6 here
			}
			t.Errorf("Listen(%s): %v", addr, err)
			continue
		}
		ln.Close()
	}

	src := newSource(t, corpus.Generate(corpus.Options{Seed: 6}))
	cert, pool := selfSigned(t)
	srv, err := serve.New(ctx, serve.Options{Root: src.root, Accounts: []string{src.user}, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := serve.Listen(ctx, "0.0.0.0:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, ln) }()
	defer func() { cancel(); <-done }()
	addr := strings.Replace(ln.Addr().String(), "0.0.0.0", "127.0.0.1", 1)
	addr = strings.Replace(addr, "[::]", "127.0.0.1", 1)
	c, err := imapclient.DialTLS(addr, &imapclient.Options{TLSConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(src.user, password).Wait(); err != nil {
		t.Fatal(err)
	}
	if sel, err := c.Select("INBOX", nil).Wait(); err != nil || sel.NumMessages == 0 {
		t.Errorf("over TLS: %+v, %v", sel, err)
	}
}

// selfSigned makes a certificate for localhost and 127.0.0.1, and a pool
// that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// TestSilentTLSClient: a client that connects to the TLS port and never
// starts TLS holds its connection for 30 seconds at most.
func TestSilentTLSClient(t *testing.T) {
	t.Parallel()
	cert, _ := selfSigned(t)
	srv, err := serve.New(context.Background(), serve.Options{Root: t.TempDir(), Accounts: []string{"a"}, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := serve.Listen(context.Background(), "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("the server sent something before TLS")
	}
	if took := time.Since(start); took > 40*time.Second {
		t.Errorf("a silent client was held for %v", took)
	}
}
