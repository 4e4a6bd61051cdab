package cyrustest_test

import (
	"errors"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailkeep/mailkeep/internal/cyrustest"
)

func TestLayouts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		layout cyrustest.Layout
		delim  rune
		prefix string
		folder string // Folder("Archive/2024")
	}{
		{"alt namespace", cyrustest.AltNamespace, '/', "", "Archive/2024"},
		{"standard namespace", cyrustest.StandardNamespace, '.', "INBOX.", "INBOX.Archive.2024"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := cyrustest.Start(t, cyrustest.Options{Layout: tc.layout})
			if s.Delim != tc.delim || s.Prefix != tc.prefix || s.Folder("Archive/2024") != tc.folder {
				t.Fatalf("%v: Folder(Archive/2024) = %q", s, s.Folder("Archive/2024"))
			}
			c := s.Dial(t, "alice")
			for _, want := range []imap.Cap{imap.CapCondStore, imap.CapListStatus, imap.CapESearch, imap.CapUIDPlus} {
				if !c.Caps().Has(want) {
					t.Errorf("capability %s not advertised after login", want)
				}
			}
			list, err := c.List("", "", nil).Collect()
			if err != nil || len(list) != 1 || list[0].Delim != tc.delim {
				t.Fatalf("LIST \"\" \"\" = %v, %v; want delimiter %q", list, err, tc.delim)
			}
			ns, err := c.Namespace().Wait()
			if err != nil || len(ns.Personal) == 0 || ns.Personal[0].Prefix != tc.prefix {
				t.Fatalf("NAMESPACE = %+v, %v; want personal prefix %q", ns, err, tc.prefix)
			}
			for _, f := range []string{s.Folder("Archive"), s.Folder("Archive/2024")} {
				if err := c.Create(f, nil).Wait(); err != nil {
					t.Fatalf("create %q: %v", f, err)
				}
			}
			appendMsg(t, c, tc.folder, "Subject: hello\r\n\r\nbody\r\n")
			sel, err := c.Select(tc.folder, nil).Wait()
			if err != nil || sel.NumMessages != 1 {
				t.Fatalf("select %q: %v, %v", tc.folder, sel, err)
			}
		})
	}
}

func TestStandardNamespaceRefusals(t *testing.T) {
	t.Parallel()
	s := cyrustest.Start(t, cyrustest.Options{Layout: cyrustest.StandardNamespace})
	c := s.Dial(t, "alice")
	for _, name := range []string{"INBOX.a/b", "Toplevel"} {
		if err := c.Create(name, nil).Wait(); err == nil {
			t.Errorf("create %q succeeded; Debian's layout refuses it", name)
		}
	}
}

func TestUsersAreSeparateAndNeedTheirPassword(t *testing.T) {
	t.Parallel()
	s := cyrustest.Start(t, cyrustest.Options{Users: []string{"dave", "erin"}})
	appendMsg(t, s.Dial(t, "dave"), "INBOX", "Subject: for dave\r\n\r\nx\r\n")
	st, err := s.Dial(t, "erin").Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil || *st.NumMessages != 0 {
		t.Errorf("erin's INBOX: %v, err %v; want 0 messages", st, err)
	}
	c, err := imapclient.DialInsecure(s.IMAPAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if err := c.Login("dave", "wrong").Wait(); err == nil {
		t.Error("login with a wrong password succeeded")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("a failed login took %v; failedloginpause should be off", d)
	}
}

func appendMsg(t *testing.T, c *imapclient.Client, folder, raw string) {
	t.Helper()
	cmd := c.Append(folder, int64(len(raw)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}})
	_, werr := cmd.Write([]byte(raw))
	if err := errors.Join(werr, cmd.Close()); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatalf("append to %q: %v", folder, err)
	}
}
