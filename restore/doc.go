// Package restore puts archived mail back on an IMAP server: every folder
// of an account's archive, or some of them, as the account held them at
// the last backup or at an earlier run (--as-of), into the same account
// or another one, optionally below a prefix folder. Folder names are
// mapped to the target (mapping.go): its namespace prefix and delimiter,
// its special-use folders by role, and the user's --map rules.
//
// It only reads the archive (archive.OpenSnapshot; no lock, so a backup
// may run meanwhile) and only adds to the server: it creates missing
// folders and APPENDs each missing message byte for byte, with its flags,
// keywords and INTERNALDATE. It never changes or removes what the server
// already holds. A restore is idempotent: before it appends to a folder,
// it finds the messages the folder already holds (by Message-ID and size,
// and by content where those do not decide), so running it again after it
// finished or was interrupted adds no duplicates. doc/design.md
// ("Restore") gives the rules.
package restore
