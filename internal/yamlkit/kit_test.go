package yamlkit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// fakeEnv is a lookup over a fixed environment.
func fakeEnv(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

func TestExpandEnv(t *testing.T) {
	lookup := fakeEnv(map[string]string{"HOST": "db.local", "EMPTY": "", "PASS": "s3cr$t"})
	cases := []struct {
		in, want string
		errs     []string
	}{
		{in: "no references", want: "no references"},
		{in: "${HOST}", want: "db.local"},
		{in: "postgres://u@${HOST}:5432/x", want: "postgres://u@db.local:5432/x"},
		{in: "${PASS}", want: "s3cr$t", errs: nil}, // a $ in a value is not expanded again
		{in: "${EMPTY}", want: ""},
		{in: "${EMPTY:-fallback}", want: "fallback"},
		{in: "${UNSET:-fallback}", want: "fallback"},
		{in: "${UNSET:-}", want: ""},
		{in: "${HOST:-fallback}", want: "db.local"},
		{in: "${UNSET:-a:-b}", want: "a:-b"},
		{in: "$${HOST}", want: "${HOST}"},
		{in: "pa$$word", want: "pa$word"},
		{in: "$$$${HOST}", want: "$${HOST}"},
		{in: "price $5, $HOME, trailing $", want: "price $5, $HOME, trailing $"},
		{in: "${UNSET}", errs: []string{"environment variable UNSET is not set"}},
		{in: "${A}-${B}", errs: []string{"environment variable A is not set", "environment variable B is not set"}},
		{in: "${}", errs: []string{"malformed ${...}: write ${NAME} or ${NAME:-default} with NAME made of letters, digits and _, or $$ for a literal $"}},
		{in: "${9LIVES}", errs: []string{"malformed ${...}: write ${NAME} or ${NAME:-default} with NAME made of letters, digits and _, or $$ for a literal $"}},
		{in: "${HOST:?oops}", errs: []string{"malformed ${...}: write ${NAME} or ${NAME:-default} with NAME made of letters, digits and _, or $$ for a literal $"}},
		{in: "abc${HOST", errs: []string{"unterminated ${ (close it with }, or write $$ for a literal $)"}},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, errs := ExpandEnv(tc.in, lookup)
			assert.Equal(t, tc.errs, errs)
			if tc.errs == nil {
				assert.Equal(t, tc.want, got)
			}
		})
	}
}

func TestEditDistance(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"tokens", "tokens", 0},
		{"tokns", "tokens", 1},
		{"tokesn", "tokens", 2},
		{"levle", "level", 2},
		{"", "abc", 3},
		{"timezone", "tz", 6},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, editDistance(tc.a, tc.b), "%s/%s", tc.a, tc.b)
		assert.Equal(t, tc.want, editDistance(tc.b, tc.a), "%s/%s", tc.b, tc.a)
	}
}

func TestDurationsMayCountDays(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"7d": 7 * 24 * time.Hour, "180d": 180 * 24 * time.Hour, "1d12h": 36 * time.Hour, "90m": 90 * time.Minute, "0d": 0,
	} {
		got, err := ParseDuration(in)
		if assert.NoError(t, err, in) {
			assert.Equal(t, want, got, in)
		}
	}
	for _, bad := range []string{"d", "xd", "-1d", "7d-1h", "7days", "1.5d", "7", ""} {
		_, err := ParseDuration(bad)
		assert.Error(t, err, bad)
	}
}
