package knowledge

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		in, err string // err: a part of the message; empty: valid
	}{
		{"2.3.1", ""},
		{"v2.3.1", ""},
		{"V5.06", ""},
		{" 2.3.1 ", ""},
		{"2", ""},
		{"1.2.3.4567", ""},
		{"999999999.0", ""},
		{"", "empty version"},
		{"v", "no number after the v"},
		{"2..3", "empty number between dots"},
		{"2.3.", "empty number between dots"},
		{".2.3", "empty number between dots"},
		{"2.3.1.4.5", "more than 4 dotted numbers"},
		{"1234567890.1", "more than 9 digits"},
		{"2.3.1-beta", `"1-beta" is not a number`},
		{"2.3.1 build 7", "is not a number"},
		{"vv2.3", "is not a number"},
		{"２.３.１", "is not a number"}, // full-width digits are not read
		{"-1.0", "is not a number"},
	} {
		_, err := ParseVersion(tc.in)
		if tc.err == "" {
			assert.NoError(t, err, "%q", tc.in)
		} else if assert.Error(t, err, "%q", tc.in) {
			assert.Contains(t, err.Error(), tc.err, "%q", tc.in)
		}
	}
}

func TestVersionsCompareAsNumbersPartByPart(t *testing.T) {
	v := func(s string) Version {
		x, err := ParseVersion(s)
		require.NoError(t, err)
		return x
	}
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"2.3.1", "2.3.1", 0},
		{"v2.3.1", "2.3.1", 0},
		{"2.3", "2.3.0", 0},
		{"2.3", "2.3.0.0", 0},
		{"2.10", "2.9", 1},
		{"5.06", "5.6", 0},
		{"2.3.1", "2.3.2", -1},
		{"3", "2.99.99", 1},
		{"2.3.0.1", "2.3", 1},
	} {
		assert.Equal(t, tc.want, v(tc.a).Compare(v(tc.b)), "%s vs %s", tc.a, tc.b)
		assert.Equal(t, -tc.want, v(tc.b).Compare(v(tc.a)), "%s vs %s", tc.b, tc.a)
	}
	assert.Equal(t, "v2.3.1", v(" v2.3.1").String(), "as written")
}

// TestRanges: each range, the versions it holds and those it does not.
func TestRanges(t *testing.T) {
	for _, tc := range []struct {
		r         string
		in, out   []string
		canonical string
	}{
		{"2.3.1", []string{"2.3.1", "v2.3.1", "2.3.1.0"}, []string{"2.3.0", "2.3.2", "2.3.1.1", "2.3"}, "2.3.1"},
		{"=2.3.1", []string{"2.3.1"}, []string{"2.3.2"}, "2.3.1"},
		{"==v2.3.1", []string{"2.3.1"}, []string{"2.3.10"}, "v2.3.1"},
		{">=2.3.0 <2.3.2", []string{"2.3.0", "2.3", "2.3.1", "2.3.1.9", "v2.3.1"}, []string{"2.2.9", "2.3.2", "2.4", "10.0"}, ">=2.3.0 <2.3.2"},
		{">= 2.3.0 < 2.3.2", []string{"2.3.1"}, []string{"2.3.2"}, ">=2.3.0 <2.3.2"},
		{">=2.3.0, <2.3.2", []string{"2.3.1"}, []string{"2.3.2"}, ">=2.3.0 <2.3.2"},
		{">2.3.0 <=2.3.2", []string{"2.3.0.1", "2.3.2"}, []string{"2.3.0", "2.3.3"}, ">2.3.0 <=2.3.2"},
		{"<2.0 || >=3.1.4", []string{"1.9.9", "3.1.4", "4"}, []string{"2.0", "3.1.3"}, "<2.0 || >=3.1.4"},
		{"<1", []string{"0.9", "0"}, []string{"1", "1.0.0.1"}, "<1"},
		{">=0", []string{"0", "99.99"}, nil, ">=0"},
		{">=2.3 <=2.3", []string{"2.3.0"}, []string{"2.3.0.1"}, ">=2.3 <=2.3"},
		{"2.3.1 || 2.3.5", []string{"2.3.1", "2.3.5"}, []string{"2.3.3"}, "2.3.1 || 2.3.5"},
		{"V5.06", []string{"5.6", "v5.06"}, []string{"5.60"}, "V5.06"},
	} {
		r, err := ParseRange(tc.r)
		require.NoError(t, err, tc.r)
		assert.Equal(t, tc.canonical, r.String(), tc.r)
		for _, s := range tc.in {
			v, err := ParseVersion(s)
			require.NoError(t, err)
			assert.True(t, r.Contains(v), "%s in %s", s, tc.r)
		}
		for _, s := range tc.out {
			v, err := ParseVersion(s)
			require.NoError(t, err)
			assert.False(t, r.Contains(v), "%s not in %s", s, tc.r)
		}
	}
}

// TestInvalidRanges: what is refused, and what the message says to write instead.
func TestInvalidRanges(t *testing.T) {
	for _, tc := range []struct{ r, err string }{
		{"", "empty range"},
		{"   ", "empty range"},
		{">=", `">=" has no version after it`},
		{">=2.3.0 <", `"<" has no version after it`},
		{"=", `"=" has no version after it`},
		{">=2.3.2 <2.3.0", "matches no version"},
		{">2.3.1 <2.3.1", "matches no version"},
		{">=2.3.1 <2.3.1", "matches no version"},
		{">2.3.1 <=2.3.1", "matches no version"},
		{"2.3.1 2.3.2", "matches no version"},
		{"<0", "matches no version"},
		{"<0.0.0", "matches no version"},
		{"~2.3", "~ and ^ ranges are not supported"},
		{"^2", "~ and ^ ranges are not supported"},
		{"=>2.3", "write >= or <="},
		{"=<2.3", "write >= or <="},
		{"2.3.x", "wildcards are not supported"},
		{"*", "wildcards are not supported"},
		{"2.3.*", "wildcards are not supported"},
		{"2.3.0-2.3.5", "write a range as comparisons"},
		{">=2.3.0<2.3.2", "write the comparisons apart"},
		{">=2.3.0 ||", "an empty side of ||"},
		{"|| 2.3", "an empty side of ||"},
		{">=abc", "is not a number"},
		{"v", "no number after the v"},
		{"2.3.1.4.5", "more than 4 dotted numbers"},
		{">1 >1 >1 >1 >1 >1 >1 >1 >1 >1 >1 >1 >1 >1 >1 >1 >1", "more than 16 comparisons"},
	} {
		_, err := ParseRange(tc.r)
		if assert.Error(t, err, "%q", tc.r) {
			assert.Contains(t, err.Error(), tc.err, "%q", tc.r)
		}
	}
}
