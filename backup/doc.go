// Package backup copies mail from a server into an account's archive: IMAP
// folders (every folder, its flags and dates, incrementally) and POP3
// inboxes (keep or delete mode). It never changes an IMAP server: folders
// are opened with EXAMINE and bodies fetched with BODY.PEEK[]. In POP3
// delete mode it deletes a message only after its archived copy is durable.
package backup
