// Package config owns mailkeep's configuration file: its YAML layout, the
// default of every key left out, and the checks that turn a mistyped or
// contradictory file into errors that name the file, the line and the
// account. It also resolves an account's credentials ([Account.Secret]) and
// decides which IMAP folders an account backs up ([Account.MatchFolder]).
//
// testdata/full.yaml is the annotated example of every key.
//
// The package imports nothing else of mailkeep.
package config
