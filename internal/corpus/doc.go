// Package corpus generates deterministic test mail and loads it into an
// IMAP server.
//
// [Generate] returns ordinary messages (plain text, quoted-printable,
// text+HTML alternatives, some with large base64 attachments) spread over a
// set of folders with international names, plus special messages that mail
// software gets wrong: dot-leading lines, a 10,000-byte line, raw 8-bit
// bodies and headers, missing and shared Message-IDs, a message without a
// header/body separator. All line ends are CRLF and no message holds a NUL
// or a bare CR or LF, because IMAP servers alter those (Dovecot serves a NUL
// as 0x80 and a bare LF as CRLF); byte-for-byte comparison after a round
// trip is therefore a fair test.
//
// The same Options always give the same messages. [More] gives further
// messages for incremental tests, and [Load] APPENDs messages with their
// flags and dates through go-imap.
//
// The package is meant for tests and benchmarks.
package corpus
