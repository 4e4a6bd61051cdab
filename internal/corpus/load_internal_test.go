package corpus

import "testing"

func TestServerName(t *testing.T) {
	for _, tc := range []struct {
		folder string
		delim  rune
		want   string // "" means an error
	}{
		{"Archive/2024", '/', "Archive/2024"},
		{"Archive/2024", '.', "Archive.2024"},
		{"R&D", '.', "R&D"},
		{"a.b/c", '.', ""},
		{"a.b/c", '/', "a.b/c"},
	} {
		got, err := serverName(tc.folder, tc.delim)
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("serverName(%q, %q) = %q, %v; want %q", tc.folder, tc.delim, got, err, tc.want)
		}
	}
}
