// Package archive owns mailkeep's on-disk archive: the per-account directory
// (format marker, lock, catalog) and the compressed Maildir tree that Dovecot
// can serve, or for an encrypted account the same tree with each message
// file encrypted with age (see codec.go and Keys). It knows nothing about
// IMAP or POP3; backup and restore drive it.
//
// Write ordering: a message file is written to the folder's tmp/, fsync'd,
// renamed into cur/ and the directory fsync'd before any catalog row names
// it. Files are made durable in batches (see Batch and Writer.Publish) so
// that a run does not wait for one fsync per message.
package archive
