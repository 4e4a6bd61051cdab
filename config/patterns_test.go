package config

import "testing"

func TestMatchFolderPatterns(t *testing.T) {
	tests := []struct {
		patterns []string
		name     string
		want     bool
	}{
		{nil, "INBOX", false},
		{[]string{"*"}, "Archive/2024", true},
		{[]string{"inbox"}, "INBOX", true},
		{[]string{"Archive", "Sent"}, "Sent", true},
		{[]string{"Archive"}, "Archive/2024", false},
		{[]string{"Archive/*"}, "Archive/2024", true},
		{[]string{`a\*`}, "a*", true},
		{[]string{`a\*`}, "ab", false},
	}
	for _, tt := range tests {
		if got := MatchFolderPatterns(tt.patterns, tt.name); got != tt.want {
			t.Errorf("MatchFolderPatterns(%q, %q) = %v, want %v", tt.patterns, tt.name, got, tt.want)
		}
	}
}

func TestCheckFolderPattern(t *testing.T) {
	for p, bad := range map[string]bool{"": true, `a\`: true, "*": false, `a\\`: false, "INBOX/*": false} {
		if err := CheckFolderPattern(p); (err != nil) != bad {
			t.Errorf("CheckFolderPattern(%q) = %v, want error %v", p, err, bad)
		}
	}
}
