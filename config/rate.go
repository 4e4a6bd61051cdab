package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Rate is a rate in bytes a second, written in YAML as a size per second:
// "10MiB/s", "500 KiB/s", "2MB/s", "1048576" (see ParseRate).
type Rate int64

// sizeUnits are the units ParseRate knows, in bytes: binary (KiB, MiB,
// GiB) and decimal (KB or kB, MB, GB) multiples of a byte.
var sizeUnits = map[string]float64{
	"": 1, "b": 1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30,
}

// ParseRate parses a size per second: a number (decimals allowed), an
// optional unit (B, KB, MB, GB, KiB, MiB, GiB; any case) and an optional
// "/s". "10MiB/s" is 10,485,760 bytes a second. It must be positive and
// a whole number of bytes at least.
func ParseRate(s string) (int64, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSpace(strings.TrimSuffix(strings.TrimSuffix(t, "/s"), "/S"))
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	mult, ok := sizeUnits[strings.ToLower(unit)]
	v, err := strconv.ParseFloat(num, 64)
	if !ok || err != nil || num == "" {
		return 0, fmt.Errorf("invalid rate %q", s)
	}
	bytes := v * mult
	if bytes < 1 || bytes > math.MaxInt64/2 || math.IsNaN(bytes) {
		return 0, fmt.Errorf("rate %q is out of range", s)
	}
	return int64(bytes), nil
}

// UnmarshalYAML parses a rate. Its error names the line.
func (r *Rate) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseRate(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		msg := fmt.Sprintf("line %d: want a size per second such as \"10MiB/s\" or \"500KiB/s\", got %s", n.Line, nodeWords(n))
		return &yaml.TypeError{Errors: []string{msg}}
	}
	*r = Rate(v)
	return nil
}

// String formats r in the largest binary unit that keeps it whole.
func (r Rate) String() string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if r >= Rate(u.size) && int64(r)%u.size == 0 {
			return fmt.Sprintf("%d%s/s", int64(r)/u.size, u.name)
		}
	}
	return fmt.Sprintf("%dB/s", int64(r))
}
