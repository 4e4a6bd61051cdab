// Package export writes an account's archive out in the formats other mail
// software reads: mbox (mboxrd, one file per folder), eml (one file per
// message) and Maildir (an uncompressed copy of the archive's own tree).
//
// It reads the archive only through its read view (archive.OpenSnapshot,
// no lock: a backup may run meanwhile) and each message only through the
// verified stream (archive.Folder.OpenMessage), so every exported message is
// checked against the catalog's size and SHA-256 while it is written. A
// message that fails the check is left out and reported; the rest of the
// export goes on.
//
// Every file is written atomically: a temp file in the directory it is
// published in, fsync, rename, fsync of the directory. An interrupted
// export leaves no half-written file under its final name, and an export
// run again into the same directory completes it without duplicates: eml
// and Maildir files already in place with the right size are kept, an mbox
// is written anew. All writes go through an os.Root opened on the target
// directory, so nothing is written outside it, whatever the folder names
// or links found there. doc/design.md ("Export") gives the layouts, the
// write order and the crash model.
package export
