// Package replicate owns the copies of an account's archive kept
// elsewhere: in a bucket of an S3-compatible object store or in another
// directory. Run copies what a replica lacks (message files, stored under
// the SHA-256 of the message so that a flag change, which renames the
// archive's file, sends nothing again) and then a consistent copy of the
// catalog, and publishes it last by replacing one small manifest. Open
// reads a replica back as an archive.Snapshot, so that restore and every
// other reader use it as they use the archive; Check verifies it.
//
// The layout, the write ordering and the crash model are in
// doc/design.md ("Replicas").
package replicate
