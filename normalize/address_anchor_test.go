package normalize

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// regexpAddressStarts is addressStarts as it was, with the regexps searching the whole text:
// the reference the scans by first rune must equal.
func regexpAddressStarts(text string) []int {
	start := regexp.MustCompile(municipalities + `|` + provinces + `|` + autonomousRegions + `|` + knownCities)
	var strong, cued, clause []int
	for _, loc := range start.FindAllStringIndex(text, -1) {
		strong = append(strong, loc[0])
	}
	for _, loc := range addrCue.FindAllStringIndex(text, -1) {
		cued = append(cued, loc[1])
	}
	clause = append(clause, 0)
	for i, r := range text {
		if strings.ContainsRune(" \t\n，。,：:；;、！!？?）)", r) {
			clause = append(clause, i+len(string(r)))
		}
	}
	sort.Ints(strong)
	sort.Ints(cued)
	return append(append(strong, cued...), clause...)
}

var addressSeeds = []string{
	"地址是南京市玄武区科技路406号，3号楼", "我家在在在苏州工业园区星湖街328号", "住在住在内蒙古呼和浩特市", "位于位置：厂址为 上海市",
	"江苏省昆山市开发区前进路1号（A栋）", "黑龙江哈尔滨大庆", "在", "地址", "厂址为\n\t在北京", "重庆重庆市渝中区",
}

func TestAddressStartsAreTheRegexps(t *testing.T) {
	for _, s := range addressSeeds {
		assert.Equal(t, regexpAddressStarts(s), slices.Collect(addressStarts(s)), s)
	}
}

func FuzzAddressStarts(f *testing.F) {
	for _, s := range addressSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := slices.Collect(addressStarts(s)), regexpAddressStarts(s); !assert.ObjectsAreEqual(want, got) {
			t.Fatalf("%q: %v, the regexps %v", s, got, want)
		}
	})
}
