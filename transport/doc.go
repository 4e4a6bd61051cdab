// Package transport opens authenticated connections to mail servers, IMAP
// (DialIMAP) and POP3 (DialPOP3) alike: TLS modes (config's implicit,
// starttls, none) with verified certificates, one choice of SASL mechanism
// or password login, a bound on every wait for the server (each step of
// opening a session, and silence while an answer is awaited: StallError),
// hints for TLS and port mistakes, and a bounded IMAP logout (CloseIMAP).
// It also owns the one rule that sorts their errors (Classify): permanent,
// temporary (retry now) or throttled (retry after RetryAfter).
package transport
