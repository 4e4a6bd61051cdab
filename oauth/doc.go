// Package oauth owns mailkeep's built-in OAuth2 client: signing an account
// in (device code flow, or authorization code with PKCE and a loopback
// redirect), keeping its tokens, and handing out a valid access token for
// each IMAP or POP3 login.
//
// The protocol itself is golang.org/x/oauth2's; this package adds what a
// backup agent needs around it:
//
//   - A token store: one owner-only (0600) JSON file per account in
//     <state_dir>/oauth2 (0700), outside the archive, replaced atomically
//     (temporary file, fsync, rename, fsync of the directory).
//   - A lock per account (flock on a separate file), held for every
//     read–refresh–write, so that the agent and a manual run share the
//     tokens and a refresh token that the provider rotates is never lost.
//   - A [Source] that refreshes the access token shortly before it expires,
//     and once more when a server refuses it ([Source.Refresh], used by
//     [Dial]). A refresh token that the provider no longer accepts, or no
//     tokens at all, is [ErrNeedsLogin]: the user must run
//     "mailkeep auth login ACCOUNT".
//
// Tokens and client secrets never appear in logs, errors or status: errors
// carry the provider's error code and description, scrubbed of anything
// secret, never its response body.
package oauth
