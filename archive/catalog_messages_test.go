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
	checkPagePlans(t, a.Catalog)
}

// checkPagePlans checks that each of pageAfter's steps is a seek into
// messages_uid on every column it constrains, with no sort.
func checkPagePlans(t *testing.T, c *Catalog) {
	t.Helper()
	seeks := []string{"uidvalidity=? AND uid=? AND rowid>?", "uidvalidity=? AND uid>?", "uidvalidity>?"}
	var after Message
	pageAfter(after, 1, func(cond string, args []any, limit int) ([]Message, error) {
		plan := queryPlan(t, c, `SELECT m.id FROM `+folderPage(cond), slices.Concat([]any{1}, args, []any{limit})...)
		want := "messages_uid (folder_id=? AND " + seeks[0] + ")"
		if seeks = seeks[1:]; !strings.Contains(plan, want) || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("query plan %q: want a seek %q and no sort", plan, want)
		}
		return nil, nil
	})
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
