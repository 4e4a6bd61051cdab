package restore

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/mailkeep/mailkeep/archive"
)

// The in-memory merge of a restore with labels that the match database
// replaced, kept as the reference that TestLabelMergeAgreesWithReference
// compares it with: each merged row joins the first message with its key
// that has no row of its folder yet, or makes a new one; a message's
// labels are those of its rows, then of their folders, each once.

type refGroup struct {
	row     archive.Message
	labels  []string
	folders map[int]bool
}

func refMergeLabels(rows []labelRow, gm map[int64]archive.Gmail) (first []int64, labels [][]string) {
	var groups []*refGroup
	byKey := map[string][]*refGroup{}
	for _, r := range rows {
		key := fmt.Sprintf("%x %d", r.m.SHA256, r.m.InternalDate.Unix())
		if id := gm[r.m.ID].MsgID; id != 0 {
			key = fmt.Sprintf("id %d", id)
		}
		var g *refGroup
		for _, c := range byKey[key] {
			if !c.folders[r.f] {
				g = c
				break
			}
		}
		if g == nil {
			g = &refGroup{row: r.m, folders: map[int]bool{}}
			groups = append(groups, g)
			byKey[key] = append(byKey[key], g)
		}
		g.folders[r.f] = true
		g.labels = addLabels(g.labels, gm[r.m.ID].Labels...)
		if r.label != "" {
			g.labels = addLabels(g.labels, r.label)
		}
	}
	for _, g := range groups {
		first, labels = append(first, g.row.ID), append(labels, g.labels)
	}
	return first, labels
}

// labelCase draws merged folders from data: up to 4 folders, rows of 3
// contents and 3 dates, some with one of 3 X-GM-MSGIDs (a message's id
// may differ from its content's, as Gmail's may) and labels from 4.
func labelCase(data []byte) ([]labelRow, map[int64]archive.Gmail) {
	next := func() int {
		if len(data) == 0 {
			return 0
		}
		b := int(data[0])
		data = data[1:]
		return b
	}
	folderLabels := []string{`\Inbox`, "", "Work", `\Sent`}
	gmLabels := []string{"Travel", `\Important`, "Work", "Ünïcode"}
	var rows []labelRow
	gm := map[int64]archive.Gmail{}
	for f := range 1 + next()%4 {
		for range next() % 6 {
			id := int64(len(rows) + 1)
			b := next()
			m := archive.Message{ID: id, SHA256: [32]byte{byte(b % 3)},
				InternalDate: time.Unix(int64(1e9+b/3%3), 0)}
			rows = append(rows, labelRow{f: f, m: m, label: folderLabels[f]})
			if g := next(); g%2 == 1 {
				var ls []string
				for k, l := range gmLabels {
					if g>>(k+1)&1 == 1 {
						ls = append(ls, l)
					}
				}
				gm[id] = archive.Gmail{MsgID: uint64(g >> 5 % 4), Labels: ls}
			}
		}
	}
	return rows, gm
}

// agreeLabels merges the rows data draws in a match database and by the
// reference, and says how they differ ("" when they do not).
func agreeLabels(t *testing.T, d *matchDB, data []byte) string {
	ctx := t.Context()
	rows, gm := labelCase(data)
	if err := d.reset(ctx); err != nil {
		t.Fatal(err)
	}
	err := d.addLabelRows(ctx, func(add func(labelRow) error) error {
		for _, r := range rows {
			if err := add(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = d.addGmail(ctx, func(add func(int64, archive.Gmail) error) error {
			for id, g := range gm {
				if err := add(id, g); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	n, err := d.mergeLabels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := d.places(ctx, "1", -1, n+1)
	if err != nil {
		t.Fatal(err)
	}
	var first []int64
	for k, p := range ps {
		if p.i != k {
			return fmt.Sprintf("message %d at place %d", k, p.i)
		}
		first = append(first, p.row)
	}
	var labels [][]string
	if err := d.eachLabels(ctx, func(i int, l []string) error {
		if i != len(labels) {
			return fmt.Errorf("labels of message %d after %d", i, len(labels))
		}
		labels = append(labels, l)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	wantFirst, wantLabels := refMergeLabels(rows, gm)
	if !slices.Equal(first, wantFirst) || fmt.Sprint(labels) != fmt.Sprint(wantLabels) {
		return fmt.Sprintf("rows %+v, gmail %v:\nmessages %v, labels %q;\nwant %v, %q", rows, gm, first, labels, wantFirst, wantLabels)
	}
	return ""
}

// TestLabelMergeAgreesWithReference: the match database makes the same
// messages of the merged rows as the in-memory merge did, in the same
// order, each with the same first row and labels.
func TestLabelMergeAgreesWithReference(t *testing.T) {
	d, err := openMatchDB(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rng := rand.New(rand.NewPCG(12, 6))
	for range 300 {
		data := make([]byte, rng.IntN(60))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		if diff := agreeLabels(t, d, data); diff != "" {
			t.Fatal(diff)
		}
	}
}

func FuzzLabelMerge(f *testing.F) {
	f.Add([]byte{3, 4, 1, 1, 1, 1, 2, 3, 2, 0, 1, 1, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 80 {
			return
		}
		d, err := openMatchDB(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if diff := agreeLabels(t, d, data); diff != "" {
			t.Fatal(diff)
		}
	})
}
