// Package backup copies mail from a server into an account's archive: IMAP
// folders (every folder, its flags and dates, incrementally) and, in time,
// POP3 inboxes. It never changes an IMAP server: folders are opened with
// EXAMINE and bodies fetched with BODY.PEEK[].
package backup
