package pop3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestTraceMasksSecrets(t *testing.T) {
	s := serveScript(t, script(hello("USER", "SASL PLAIN"), []step{
		say("AUTH PLAIN "+b64("\x00bob\x00hunter2"), "-ERR [AUTH] Authentication failed.\r\n"),
		say("AUTH XOAUTH2", "+ \r\n"),
		say(b64(strings.Repeat("hunter2", 50)), "+OK\r\n"),
		say("RETR 1", okBody("Subject: hi\r\n\r\nbody\r\n")),
	}))
	var trace bytes.Buffer
	c, err := dialScript(t, s, &Options{Timeout: 5 * time.Second, Trace: &trace})
	if err != nil {
		t.Fatal(err)
	}
	if err := auth(ctx, c, "bob", "hunter2"); !errors.Is(err, ErrAuth) {
		t.Fatalf("Auth: %v", err)
	}
	if err := c.AuthSASL(ctx, "XOAUTH2", []byte(strings.Repeat("hunter2", 50))); err != nil {
		t.Fatalf("AuthSASL: %v", err)
	}
	if _, err := c.Retr(ctx, 1, io.Discard); err != nil {
		t.Fatal(err)
	}
	got := trace.String()
	for _, secret := range []string{"hunter2", b64("\x00bob\x00hunter2"), b64(strings.Repeat("hunter2", 50))[:20]} {
		if strings.Contains(got, secret) {
			t.Errorf("trace shows %q:\n%s", secret, got)
		}
	}
	for _, want := range []string{"S: +OK POP3 ready\n", "C: CAPA\n", "C: AUTH PLAIN ***\n", "C: ***\n",
		"C: RETR 1\n", "S: (21 bytes of message data)\nS: .\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("trace lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "body") {
		t.Errorf("trace copies message data:\n%s", got)
	}
}

func TestTraceMasksPass(t *testing.T) {
	s := serveScript(t, script(hello(), []step{say("USER bob", "+OK\r\n"), say("PASS hunter2", "+OK\r\n")}))
	var trace bytes.Buffer
	c, err := dialScript(t, s, &Options{Timeout: 5 * time.Second, Trace: &trace})
	if err != nil {
		t.Fatal(err)
	}
	if err := auth(ctx, c, "bob", "hunter2"); err != nil {
		t.Fatal(err)
	}
	if got := trace.String(); strings.Contains(got, "hunter2") || !strings.Contains(got, "C: USER bob\nS: +OK\nC: PASS ***\n") {
		t.Errorf("trace:\n%s", got)
	}
}

// TestRetrStreamsInBoundedMemory retrieves a 10 MiB message, most of it one
// 8 MiB line, the rest short lines that start with a dot, and checks that
// the client allocated a small fraction of that.
func TestRetrStreamsInBoundedMemory(t *testing.T) {
	const dotLine = ".leading dot line\r\n"
	lines := (2 << 20) / len(dotLine)
	long := strings.Repeat("L", 8<<20) + "\r\n"
	want := []byte(strings.Repeat(dotLine, lines) + long)
	wire := "+OK\r\n" + strings.Repeat("."+dotLine, lines) + long + ".\r\n"
	s := serveScript(t, script(hello(), []step{say("RETR 1", wire), say("NOOP", "+OK\r\n")}))
	c, err := dialScript(t, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantSum := sha256.Sum256(want)
	h := sha256.New()

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n, err := c.Retr(ctx, 1, h)
	runtime.ReadMemStats(&after)

	if err != nil || n != int64(len(want)) || !bytes.Equal(h.Sum(nil), wantSum[:]) {
		t.Fatalf("Retr = %d, %v; want %d bytes, same digest", n, err, len(want))
	}
	// The server's writes and the hash run in this process too; the
	// message itself must not be held.
	t.Logf("Retr of %d bytes allocated %d bytes", n, after.TotalAlloc-before.TotalAlloc)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<10 {
		t.Errorf("Retr of %d bytes allocated %d bytes", n, alloc)
	}
	wantNoop(t, c)
}

func TestNewClientCancelled(t *testing.T) {
	s := serveScript(t, []step{{then: goSilent}})
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := dial(cctx, s.addr(), plainText, nil, &Options{Timeout: time.Minute})
	if !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
		t.Errorf("NewClient = %v after %v; want context.Canceled at once", err, time.Since(start))
	}
}
