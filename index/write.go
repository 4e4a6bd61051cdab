package index

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/mailkeep/mailkeep/archive"
)

// Add indexes docs in one transaction. It is idempotent: a doc whose ID is
// already indexed replaces it.
func (ix *Index) Add(ctx context.Context, docs []Doc) error {
	if len(docs) == 0 {
		return nil
	}
	return ix.tx(ctx, func(tx *sql.Tx) error {
		w, err := newDocWriter(ctx, tx)
		if err != nil {
			return err
		}
		defer w.close()
		for _, d := range docs {
			if err := w.add(ctx, d); err != nil {
				return fmt.Errorf("add %d: %w", d.ID, err)
			}
		}
		return nil
	})
}

// Delete removes the docs of these catalog rows; unknown IDs are ignored.
func (ix *Index) Delete(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	return ix.tx(ctx, func(tx *sql.Tx) error {
		w, err := newDocWriter(ctx, tx)
		if err != nil {
			return err
		}
		defer w.close()
		for _, id := range ids {
			if err := w.remove(ctx, id); err != nil {
				return fmt.Errorf("delete %d: %w", id, err)
			}
		}
		return nil
	})
}

// docWriter holds the statements of one write transaction.
type docWriter struct {
	exists, delText, delDoc, insDoc, insText *sql.Stmt
}

func newDocWriter(ctx context.Context, tx *sql.Tx) (*docWriter, error) {
	w := &docWriter{}
	for _, s := range []struct {
		st **sql.Stmt
		q  string
	}{
		{&w.exists, `SELECT count(*) FROM docs WHERE id = ?`},
		{&w.delText, `DELETE FROM text WHERE rowid = ?`},
		{&w.delDoc, `DELETE FROM docs WHERE id = ?`},
		{&w.insDoc, `INSERT INTO docs (id, handle, folder, key, date, size, sender, rcpt, cc, subject,
			message_id, attachments, undecodable) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&w.insText, `INSERT INTO text (rowid, subject, sender, rcpt, cc, body, attachments)
			VALUES (?, ?, ?, ?, ?, ?, ?)`},
	} {
		st, err := tx.PrepareContext(ctx, s.q)
		if err != nil {
			w.close()
			return nil, err
		}
		*s.st = st
	}
	return w, nil
}

func (w *docWriter) close() {
	for _, st := range []*sql.Stmt{w.exists, w.delText, w.delDoc, w.insDoc, w.insText} {
		if st != nil {
			st.Close()
		}
	}
}

func (w *docWriter) remove(ctx context.Context, id int64) error {
	var n int
	if err := w.exists.QueryRowContext(ctx, id).Scan(&n); err != nil || n == 0 {
		return err
	}
	if _, err := w.delText.ExecContext(ctx, id); err != nil {
		return err
	}
	_, err := w.delDoc.ExecContext(ctx, id)
	return err
}

func (w *docWriter) add(ctx context.Context, d Doc) error {
	if err := w.remove(ctx, d.ID); err != nil {
		return err
	}
	names := strings.Join(d.Attachments, "\n")
	_, err := w.insDoc.ExecContext(ctx, d.ID, archive.Handle(d.Folder, d.Key), d.Folder, d.Key,
		d.Date.Unix(), d.Size, d.From, d.To, d.Cc, d.Subject, d.MessageID, names, d.Undecodable)
	if err != nil {
		return err
	}
	_, err = w.insText.ExecContext(ctx, d.ID, segment(d.Subject), segment(d.From), segment(d.To),
		segment(d.Cc), segment(d.Body), segment(names))
	return err
}
