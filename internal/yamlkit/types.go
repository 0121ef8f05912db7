package yamlkit

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// redacted is what a non-empty Secret prints as, wherever it is printed.
const redacted = "[redacted]"

// Secret is a config string that must not leak: API tokens, database DSNs, connector
// credentials. Printing, logging or marshalling it shows "[redacted]"; only Reveal gives the
// value, and it should be called only where the value is used.
type Secret string

// Reveal returns the real value.
func (s Secret) Reveal() string { return string(s) }

// String returns "[redacted]", or "" for an empty secret so that a missing value stays visible.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value. It names the type config.Secret, as it was
// printed before the kit existed and as config still spells it.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.String()) }

// LogValue redacts the secret in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON redacts the secret in JSON.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalYAML redacts the secret in YAML.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// Duration is a length of time written the Go way: "30s", "5m", "2h", "1h30m", and in whole
// days of 24 hours before that: "30d", "1d12h"; "0" is zero. A bare number is refused rather
// than guessed at (seconds? milliseconds?).
type Duration time.Duration

// Std returns the duration as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats the duration as time.Duration does ("1m30s").
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalYAML writes the duration in the form UnmarshalYAML reads.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML reads a duration from a scalar. It works under both walkers and under yaml.v3's
// own decoder (node.Decode).
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a duration like 30s or 5m, got %s", Describe(n))
	}
	if n.Value == "0" {
		*d = 0
		return nil
	}
	v, err := parseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("want a duration like 30s or 5m, got %q", n.Value)
	}
	*d = Duration(v)
	return nil
}

// parseDuration is time.ParseDuration with whole days first: "30d", "1d12h".
func parseDuration(s string) (time.Duration, error) {
	days, rest, ok := strings.Cut(s, "d")
	if !ok {
		return time.ParseDuration(s)
	}
	n, err := strconv.ParseUint(days, 10, 16) // up to 65535 days, 179 years
	if err != nil || days[0] == '+' {
		return 0, fmt.Errorf("bad days in %q", s)
	}
	d := time.Duration(n) * 24 * time.Hour
	if rest == "" {
		return d, nil
	}
	more, err := time.ParseDuration(rest)
	if err != nil || more < 0 {
		return 0, fmt.Errorf("bad duration after the days in %q", s)
	}
	return d + more, nil
}

// Interface guards.
var (
	_ fmt.Stringer     = Secret("")
	_ fmt.GoStringer   = Secret("")
	_ slog.LogValuer   = Secret("")
	_ json.Marshaler   = Secret("")
	_ yaml.Marshaler   = Secret("")
	_ yaml.Unmarshaler = (*Duration)(nil)
	_ yaml.Marshaler   = Duration(0)
)
