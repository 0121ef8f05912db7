package normalize

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// unanchoredPhones is ExtractPhones as it was, searching with the unanchored patterns from
// each resume point: the reference the anchored search must equal.
func unanchoredPhones(text string) []Match {
	find := func(out []Match, re *regexp.Regexp, allowExtension bool, value func([]string) string) []Match {
		for i := 0; i < len(text); {
			loc := re.FindStringSubmatchIndex(text[i:])
			if loc == nil {
				break
			}
			start, end := i+loc[0], i+loc[1]
			after := end
			if allowExtension {
				if ext := extensionPattern.FindStringIndex(text[end:]); ext != nil {
					after = end + ext[1]
				}
			}
			if !standsAlone(text, start, after) {
				i = start + 1
				continue
			}
			groups := make([]string, len(loc)/2)
			for g := range groups {
				if loc[2*g] >= 0 {
					groups[g] = text[i+loc[2*g] : i+loc[2*g+1]]
				}
			}
			out = append(out, newMatch(text, start, end, value(groups)))
			i = end
		}
		return out
	}
	var found []Match
	found = find(found, mobilePattern, false, func(g []string) string { return g[1] + g[2] + g[3] })
	found = find(found, landlinePattern, true, func(g []string) string {
		area := g[1]
		if area == "" {
			area = g[2]
		}
		return area + "-" + g[3] + g[4]
	})
	return dropOverlaps(found)
}

var phoneSeeds = []string{
	"电话13812345678", "订单913812345678", "+86 138-1234-5678 转 12", "（0512）6789 1234转808", "(021)12345678-123",
	"0086 13912345678，010-12345678", "GD-20261123-000042 13800001111", "138 1234 5678\n0512-67891234 ext.12",
	"我的电话是186 1234 5678不对是18612345679", "（（（（０５１２）", "1.3812345678", "13812345678a",
	// Longer than the window an anchored pattern is run on: whitespace that carries a landline's
	// match past it, and numbers far into a long text.
	"（" + strings.Repeat(" ", 40) + "0512" + strings.Repeat("\t", 12) + "）  6789 1234" + strings.Repeat("话", 30),
	"(" + strings.Repeat(" ", 70) + "021)12345678", strings.Repeat("好的，", 40) + "13812345678" + strings.Repeat("嗯", 40) + "0512-6789 1234",
	"( " + strings.Repeat(" \n", 20) + "010 ) 1234 5678转9" + strings.Repeat("x", 60),
}

func TestAnchoredPhonesAreTheUnanchored(t *testing.T) {
	for _, s := range phoneSeeds {
		assert.Equal(t, unanchoredPhones(s), ExtractPhones(s), s)
	}
}

func FuzzAnchoredPhones(f *testing.F) {
	for _, s := range phoneSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ExtractPhones(s), unanchoredPhones(s); !assert.ObjectsAreEqual(want, got) {
			t.Fatalf("%q: anchored %v, unanchored %v", s, got, want)
		}
	})
}
