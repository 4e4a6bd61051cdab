package backup_test

import (
	"testing"

	"github.com/mailkeep/mailkeep/archive"
)

// TestGoneFolderComesBack renames a folder away and back on Dovecot, which
// keeps its UIDVALIDITY: its messages, recorded gone while it was away,
// are recorded present again (a retention would otherwise take messages
// the server has), and nothing is fetched into it twice.
func TestGoneFolderComesBack(t *testing.T) {
	ctx := t.Context()
	src, dial, root := aliceOnDovecot(t)
	if err := src.Create("Box", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		appendMessage(t, src, "Box", i)
	}
	runBackup(t, ctx, root, dial)
	if err := src.Rename("Box", "Away", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if s := runBackup(t, ctx, root, dial).Stats; s.Gone != 3 {
		t.Fatalf("Box renamed away: %+v, want 3 gone", s)
	}
	if err := src.Rename("Away", "Box", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if s := runBackup(t, ctx, root, dial).Stats; s.NewMessages != 0 || s.Gone != 3 {
		t.Fatalf("Box back: %+v, want nothing fetched and Away's 3 gone", s)
	}
	snap, err := archive.OpenSnapshot(ctx, root, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	folders, _ := snap.Folders(ctx, archive.View{Gone: archive.GoneToo})
	for _, f := range folders {
		msgs, _ := snap.Messages(ctx, f.ID, archive.View{Gone: archive.GoneToo})
		for _, m := range msgs {
			if (m.GoneRun == 0) != (f.Name == "Box") {
				t.Errorf("%s %s: gone in run %d", f.Name, m.Key, m.GoneRun)
			}
		}
		if f.Name == "Box" && (f.Gone || len(msgs) != 3) {
			t.Errorf("Box: gone %v, %d messages", f.Gone, len(msgs))
		}
	}
	compareWithArchive(t, src, root)
}
