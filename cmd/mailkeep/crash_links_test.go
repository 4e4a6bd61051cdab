package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/emersion/go-imap/v2"

	"github.com/mailkeep/mailkeep/archive"
	"github.com/mailkeep/mailkeep/internal/corpus"
	"github.com/mailkeep/mailkeep/internal/dovecottest"
)

// TestKillBackupLinks kills `mailkeep backup` with SIGKILL at random
// points of its progress while it stores copies of INBOX (two other
// folders hold the same messages, made with COPY) as hard links, twice per
// archive, then lets one run finish: every message of every folder must
// have exactly one row and one file, and verify must be clean. A killed
// run leaves at most a published link without its row, which the next
// run adopts: from its file in a plain archive, from its staged row in an
// encrypted one (backed up without the identity).
func TestKillBackupLinks(t *testing.T) {
	srv := dovecottest.Start(t, dovecottest.Options{})
	msgs := corpus.Generate(corpus.Options{Seed: 13, Count: 150, Big: 1 << 20, Folders: []string{"INBOX", "Archive"}})
	c := srv.Dial(t, "alice")
	if err := corpus.Load(t.Context(), c, msgs); err != nil {
		t.Fatal(err)
	}
	inbox := 0
	for _, m := range msgs {
		if m.Folder == "INBOX" {
			inbox++
		}
	}
	for _, to := range []string{"Copy", "Copy2"} {
		if err := c.Create(to, nil).Wait(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Copy(imap.SeqSet{{Start: 1, Stop: 0}}, to).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	total := len(msgs) + 2*inbox
	id, _ := age.GenerateX25519Identity()
	for _, tc := range []struct {
		name, extra, trialsVar string
		keys                   *archive.Keys
		trials                 int
	}{
		{"plain", "", "MAILKEEP_LINK_CRASH_TRIALS", nil, 8},
		{"encrypted", "    encryption:\n      recipients: [\"" + id.Recipient().String() + "\"]\n",
			"MAILKEEP_CRYPT_LINK_CRASH_TRIALS", &archive.Keys{Identities: []age.Identity{id}}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
			trials, killed := trials(tc.trialsVar, tc.trials), 0
			for i := 0; i < trials; i += 2 {
				cfg, root := writeConfig(t, srv, srv.Password("alice"), tc.extra)
				for j := 0; j < 2 && i+j < trials; j++ {
					have := countFiles(root)
					if killAtProgress(t, cfg, root, have+rng.IntN(total-have+1), rng) {
						killed++
					}
				}
				finishLinks(t, cfg, root, total, tc.keys)
				t.Logf("trial %d: %d contents stored more than once", i, storedTwice(t, root, tc.keys))
			}
			t.Logf("%d trials, %d killed mid-run", trials, killed)
			if killed < trials/2 {
				t.Errorf("only %d of %d trials killed a running backup", killed, trials)
			}
		})
	}
}

// finishLinks lets a backup finish and checks the archive: a plain one as
// finishAndCheck does, an encrypted one with verify, which checks the
// files against their stored hashes, and then with the identity.
func finishLinks(t *testing.T, cfg, root string, want int, keys *archive.Keys) {
	t.Helper()
	if keys == nil {
		finishAndCheck(t, cfg, root, want)
		return
	}
	if r := mailkeep(t, nil, "backup", "--config", cfg); r.code != exitOK {
		t.Fatalf("run after the kills: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := mailkeep(t, nil, "verify", "--config", cfg)
	if r.code != exitOK || !strings.Contains(r.stdout, "alice: clean") || !strings.Contains(r.stdout, fmt.Sprintf(", %d messages", want)) {
		t.Fatalf("verify without the identity: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	a := openAlice(t, root, keys)
	defer a.Close()
	rep, err := a.Verify(t.Context(), archive.VerifyOptions{})
	if err != nil || rep.Messages != want || len(rep.Problems) > 0 || rep.HashesOnly {
		t.Fatalf("verify with the identity: %d messages (want %d), %v, %v", rep.Messages, want, rep.Problems, err)
	}
}

func openAlice(t *testing.T, root string, keys *archive.Keys) *archive.Writer {
	t.Helper()
	a, err := archive.OpenWriterKeys(t.Context(), root, "alice", nil, keys)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// storedTwice counts the contents of the archive held by more than one
// file: a kill can leave a copy that a later run stored again before it
// adopted the first (the archive is whole either way).
func storedTwice(t *testing.T, root string, keys *archive.Keys) int {
	t.Helper()
	ctx := context.Background()
	a := openAlice(t, root, keys)
	defer a.Close()
	folders, _ := a.Catalog.Folders(ctx)
	inodes := map[[32]byte]map[uint64]bool{}
	for _, f := range folders {
		af, err := a.Folder(f.Name, '/')
		if err != nil {
			t.Fatal(err)
		}
		msgs, _ := a.Catalog.FolderMessages(ctx, f.ID)
		for _, m := range msgs {
			mf, _ := archive.ParseMessageFile(m.File)
			fi, err := os.Stat(af.Path(mf))
			if err != nil {
				t.Fatal(err)
			}
			if inodes[m.SHA256] == nil {
				inodes[m.SHA256] = map[uint64]bool{}
			}
			inodes[m.SHA256][fi.Sys().(*syscall.Stat_t).Ino] = true
		}
	}
	n := 0
	for _, ino := range inodes {
		if len(ino) > 1 {
			n++
		}
	}
	return n
}
