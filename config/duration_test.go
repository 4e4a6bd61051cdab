package config

import (
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestDurationUnmarshal(t *testing.T) {
	tests := []struct {
		in      string
		want    Duration
		wantErr string
	}{
		{"d: 90s", Duration(90 * time.Second), ""},
		{"d: 1h30m", Duration(90 * time.Minute), ""},
		{"d: 0s", 0, ""},
		{"d: 365d", Duration(365 * 24 * time.Hour), ""},
		{"d: 2w", Duration(14 * 24 * time.Hour), ""},
		{"d: 1w2d3h", Duration(9*24*time.Hour + 3*time.Hour), ""},
		{"d: 1d30m", Duration(24*time.Hour + 30*time.Minute), ""},
		{"d: -1h", Duration(-time.Hour), ""},
		{"d: d", 0, `got "d"`},
		{"d: 2d1w", 0, `got "2d1w"`},
		{"d:", 0, ""},
		{"\nd: 30", 0, `line 2: want a duration such as "90s", "2m" or "7d", got "30"`},
		{"d: {a: 1}", 0, `line 1: want a duration such as "90s", "2m" or "7d", got a mapping`},
	}
	for _, tt := range tests {
		var v struct{ D Duration }
		err := yaml.Unmarshal([]byte(tt.in), &v)
		if tt.wantErr == "" && (err != nil || v.D != tt.want) {
			t.Errorf("%q: got %v, %v; want %v", tt.in, v.D, err, tt.want)
		}
		if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%q: error %v, want %q", tt.in, err, tt.wantErr)
		}
	}
}
