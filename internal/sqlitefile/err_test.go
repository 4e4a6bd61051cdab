package sqlitefile

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"modernc.org/sqlite"
)

// TestErrFull: SQLite's "database or disk is full" is a full disk to
// errors.Is, whatever its wrapping; other errors pass unchanged.
func TestErrFull(t *testing.T) {
	full, other := sqliteError(t, sqliteFull), sqliteError(t, 1)
	for _, c := range []struct {
		err  error
		full bool
	}{
		{full, true},
		{fmt.Errorf("commit: %w", full), true},
		{other, false},
		{errors.New("plain"), false},
		{nil, false},
	} {
		got := Err(c.err)
		if errors.Is(got, syscall.ENOSPC) != c.full || !errors.Is(got, c.err) {
			t.Errorf("Err(%v) = %v: full %v, want %v", c.err, got, errors.Is(got, syscall.ENOSPC), c.full)
		}
	}
}

// sqliteError makes a *sqlite.Error of code by running SQL that fails
// with it: a full disk is simulated with max_page_count.
func sqliteError(t *testing.T, code int) error {
	t.Helper()
	db, err := OpenWriter(t.TempDir()+"/x.db", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := `SELECT * FROM no_such_table`
	if code == sqliteFull {
		if _, err := db.Exec(`CREATE TABLE t (b BLOB); PRAGMA max_page_count = 2`); err != nil {
			t.Fatal(err)
		}
		q = `INSERT INTO t VALUES (zeroblob(100000))`
	}
	_, err = db.Exec(q)
	var se *sqlite.Error
	if !errors.As(err, &se) || se.Code()&0xff != code {
		t.Fatalf("%s: %v, want SQLite code %d", q, err, code)
	}
	return err
}
