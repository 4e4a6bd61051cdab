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
		{"d:", 0, ""},
		{"\nd: 30", 0, `line 2: want a duration such as "90s" or "2m", got "30"`},
		{"d: {a: 1}", 0, `line 1: want a duration such as "90s" or "2m", got a mapping`},
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
