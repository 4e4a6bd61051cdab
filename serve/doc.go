// Package serve is "mailkeep serve": the archive as a read-only IMAP
// server, so that any mail client can browse it.
//
// It is a thin backend behind go-imap v2's imapserver. A session reads an
// account through one archive.Snapshot, opened at login, and every message
// through Folder.OpenMessage, the verified stream; it never touches the
// archive's files itself and writes nothing (no index, no lock), so a
// backup of the same account runs beside it unhindered.
//
// What the package owns:
//   - the served folder tree: the archive's folders with their server names
//     and delimiter, their \Noselect parents, and mailkeep/Gone, which holds
//     what the archive kept after the server deleted it (mailboxes.go);
//   - the UID rule of each view (view.go);
//   - FETCH of every item from the stream, with bounded memory: a 25 MB
//     message goes from disk to the socket in small blocks (fetch.go,
//     section.go, structure.go, bodystructure.go);
//   - SEARCH on flags, dates, sizes, headers and body text (search.go);
//   - the read-only guarantee: every writing command is refused in one
//     place (refuse.go), and SELECT answers [READ-ONLY].
package serve
