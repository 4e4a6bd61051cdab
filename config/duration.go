package config

import (
	"fmt"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written in YAML as a duration string (see
// ParseDuration): "90s", "2m", "1h30m", "365d", "2w".
type Duration time.Duration

// ParseDuration parses a Go duration string that may start with weeks
// ("w", 7 days) and days ("d", 24 hours): "2w", "365d", "1d12h", "90s".
// A negative Go duration parses; callers that need a positive one say so.
func ParseDuration(s string) (time.Duration, error) {
	var total time.Duration
	rest := s
	for _, unit := range []struct {
		suffix byte
		size   time.Duration
	}{{'w', 7 * 24 * time.Hour}, {'d', 24 * time.Hour}} {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i == len(rest) || rest[i] != unit.suffix {
			continue
		}
		n, err := strconv.ParseInt(rest[:i], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		total += time.Duration(n) * unit.size
		rest = rest[i+1:]
	}
	if rest != "" {
		v, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		total += v
	}
	if s == "" {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	return total, nil
}

// UnmarshalYAML parses a duration string. Its error names the line.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		msg := fmt.Sprintf("line %d: want a duration such as \"90s\", \"2m\" or \"7d\", got %s", n.Line, nodeWords(n))
		return &yaml.TypeError{Errors: []string{msg}}
	}
	*d = Duration(v)
	return nil
}

// String formats d like time.Duration.
func (d Duration) String() string {
	return time.Duration(d).String()
}

func nodeWords(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(n.Value)
}
