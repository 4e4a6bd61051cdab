// Package index owns an account's search index: the text extracted from
// each archived message (decoded headers, text and HTML bodies, attachment
// names) and the SQLite FTS5 tables over it, kept in index.db beside the
// account's catalog.db. It also owns the query language of `mailkeep find`
// (query.go parses it, compile.go turns it into SQL with bound parameters
// only) and the search itself, which reads flags and gone state from the
// catalog so that they are always current.
//
// The index holds no copy of a message and is never the only record of
// anything: it may lag the archive, never lead it, and Catchup or Rebuild
// recreate it from the archive alone.
package index
