package couriertest_test

import (
	"errors"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/internal/couriertest"
)

func TestStartServesIMAP(t *testing.T) {
	t.Parallel()
	s := couriertest.Start(t, couriertest.Options{})
	c := s.Dial(t, "alice")
	for _, lacks := range []imap.Cap{imap.CapCondStore, imap.CapListStatus, imap.CapESearch} {
		if c.Caps().Has(lacks) {
			t.Errorf("Courier advertises %s", lacks)
		}
	}
	list, err := c.List("", "", nil).Collect()
	if err != nil || len(list) != 1 || list[0].Delim != '.' {
		t.Fatalf("LIST \"\" \"\" = %v, %v; want delimiter '.'", list, err)
	}
	ns, err := c.Namespace().Wait()
	if err != nil || len(ns.Personal) == 0 || ns.Personal[0].Prefix != "INBOX." {
		t.Fatalf("NAMESPACE = %+v, %v; want personal prefix INBOX.", ns, err)
	}
	folder := s.Folder("Archive/2024")
	if folder != "INBOX.Archive.2024" {
		t.Fatalf("Folder(Archive/2024) = %q", folder)
	}
	if err := c.Create(folder, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	appendMsg(t, c, folder, "Subject: hello\r\n\r\nbody\r\n", "Projekt-X")
	sel, err := c.Select(folder, nil).Wait()
	if err != nil || sel.NumMessages != 1 {
		t.Fatalf("select %q: %v, %v", folder, sel, err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Flags: true}).Collect()
	if err != nil || len(msgs) != 1 || len(msgs[0].Flags) != 2 {
		t.Errorf("flags after APPEND with \\Seen and a keyword: %v, %v", msgs, err)
	}
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	s := couriertest.Start(t, couriertest.Options{})
	c := s.Dial(t, "alice")
	for _, name := range []string{"INBOX.a/b", "Toplevel"} {
		if err := c.Create(name, nil).Wait(); err == nil {
			t.Errorf("create %q succeeded; Courier refuses it", name)
		}
	}
}

// TestCommandsAreFast: with gam_server running, Courier answers at once;
// without it, LOGIN, SELECT, CREATE and APPEND each take about 1.2 s.
func TestCommandsAreFast(t *testing.T) {
	t.Parallel()
	s := couriertest.Start(t, couriertest.Options{})
	start := time.Now()
	c := s.Dial(t, "alice")
	for i := range 3 {
		f := s.Folder("F" + string(rune('a'+i)))
		if err := c.Create(f, nil).Wait(); err != nil {
			t.Fatal(err)
		}
		appendMsg(t, c, f, "Subject: x\r\n\r\ny\r\n")
		if _, err := c.Select(f, nil).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("LOGIN and 3 × CREATE, APPEND, SELECT took %v; is gam_server running?\n%s", d, s.LogTail(20))
	}
}

func TestUsersAreSeparate(t *testing.T) {
	t.Parallel()
	s := couriertest.Start(t, couriertest.Options{Users: []string{"dave", "erin"}})
	appendMsg(t, s.Dial(t, "dave"), "INBOX", "Subject: for dave\r\n\r\nx\r\n")
	st, err := s.Dial(t, "erin").Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil || *st.NumMessages != 0 {
		t.Errorf("erin's INBOX: %v, err %v; want 0 messages", st, err)
	}
}

// TestWrongPasswordIsRefused takes 5 s: Courier delays a failed login.
func TestWrongPasswordIsRefused(t *testing.T) {
	t.Parallel()
	s := couriertest.Start(t, couriertest.Options{Users: []string{"dave"}})
	c, err := imapclient.DialInsecure(s.IMAPAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("dave", "wrong").Wait(); err == nil {
		t.Error("login with a wrong password succeeded")
	}
}

func appendMsg(t *testing.T, c *imapclient.Client, folder, raw string, flags ...imap.Flag) {
	t.Helper()
	flags = append(flags, imap.FlagSeen)
	cmd := c.Append(folder, int64(len(raw)), &imap.AppendOptions{Flags: flags})
	_, werr := cmd.Write([]byte(raw))
	if err := errors.Join(werr, cmd.Close()); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatalf("append to %q: %v", folder, err)
	}
}
