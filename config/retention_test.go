package config

import (
	"testing"
	"time"
)

func TestParseRetention(t *testing.T) {
	day := Duration(24 * time.Hour)
	tests := []struct {
		name string
		in   string
		want Retention
	}{
		{"absent keeps everything", base, Retention{}},
		{"every imap key", withAccount("    retention:\n      gone_after: 52w\n      folders_gone_after: 1d12h\n      runs: 30\n"),
			Retention{GoneAfter: 364 * day, FoldersGoneAfter: day + day/2, Runs: 30}},
		{"one key", withAccount("    retention: {runs: 1}\n"), Retention{Runs: 1}},
		{"pop3", pop3("    retention:\n      gone_after: 1d\n      pop3_deleted_after: 730d\n"),
			Retention{GoneAfter: day, POP3DeletedAfter: 730 * day}},
	}
	for _, tc := range tests {
		cfg, err := Parse([]byte(tc.in), "t.yaml")
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := cfg.Accounts[0].Retention; got != tc.want || got.IsZero() != (tc.want == Retention{}) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
