package archive

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestFolderMessagesAfter: paging a folder's rows gives each row once,
// rows that share (UIDVALIDITY, UID) (POP3's are all 0) included, and each
// page is a seek into the messages_uid index, not a sort of the folder.
func TestFolderMessagesAfter(t *testing.T) {
	ctx := context.Background()
	a := buildArchive(t, 5)
	st := folderState(t, a, "INBOX")
	var pop []Message
	for i := range 3 {
		key := POP3Key(fmt.Sprintf("uidl-%d", i))
		pop = append(pop, Message{FolderID: st.ID, Key: key, File: MessageFile{Key: key, Size: 1, VSize: 1}.Name(),
			Size: 1, VSize: 1, InternalDate: time.Now()})
	}
	if err := a.Catalog.AddMessages(ctx, pop, 1); err != nil {
		t.Fatal(err)
	}
	var want []int64
	for _, m := range folderMessages(t, a, st.ID) {
		want = append(want, m.ID)
	}
	var got []int64
	var after Message
	for {
		page, err := a.Catalog.FolderMessagesAfter(ctx, st.ID, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, m := range page {
			got = append(got, m.ID)
		}
		after = page[len(page)-1]
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("paged ids %v, want %v", got, want)
	}
	plan := queryPlan(t, a.Catalog, `SELECT id FROM messages `+folderPage, st.ID, 0, 0, 0, 2)
	if !strings.Contains(plan, "messages_uid") || strings.Contains(plan, "TEMP B-TREE") {
		t.Errorf("query plan %q: want a seek into messages_uid and no sort", plan)
	}
}

// queryPlan is SQLite's plan for query, its steps joined by "; ".
func queryPlan(t *testing.T, c *Catalog, query string, args ...any) string {
	t.Helper()
	rows, err := c.db.Query(`EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "; ")
}
