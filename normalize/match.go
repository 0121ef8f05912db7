package normalize

import (
	"sort"
	"strings"
)

// Match is one value an extractor found in a text. Start and End are byte offsets into the text
// the extractor was given and Text is text[Start:End], exactly as written, so a caller can record
// it as Evidence. Value is the normalised form (digits only, a category name, an RFC 3339 time…).
type Match struct {
	Value string `json:"value"`
	Text  string `json:"text"`
	Start int    `json:"start"`
	End   int    `json:"end"`
}

func newMatch(text string, start, end int, value string) Match {
	return Match{Value: value, Text: text[start:end], Start: start, End: end}
}

// dropOverlaps sorts matches by position and keeps, of matches that overlap, the one that starts
// first (the longer one when two start together). Two extractors' rules can both fire on the same
// characters; a caller should see them once.
func dropOverlaps(ms []Match) []Match {
	sort.SliceStable(ms, func(i, j int) bool {
		if ms[i].Start != ms[j].Start {
			return ms[i].Start < ms[j].Start
		}
		return ms[i].End > ms[j].End
	})
	out := ms[:0]
	end := -1
	for _, m := range ms {
		if m.Start < end {
			continue
		}
		out = append(out, m)
		end = m.End
	}
	return out
}

func isASCIIAlnum(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

func isASCIIDigit(b byte) bool { return b >= '0' && b <= '9' }

// asciiLower lowers ASCII letters only, so byte offsets in the result are offsets in s: Unicode
// case mapping can change a string's length and would break Match.Start and Match.End. A text
// with no capital (a call's words, mostly) is not copied.
func asciiLower(s string) string {
	i := 0
	for i < len(s) && (s[i] < 'A' || s[i] > 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// isBlank is the regexp class \s: space, \t, \n, \f, \r.
func isBlank(b byte) bool { return strings.IndexByte(" \t\n\f\r", b) >= 0 }

// runeSet is a set of runes by their low 16 bits, asked before a map of words by their first
// rune: most runes of a text begin no word, and the set says so in a fraction of a map
// lookup's time. A rune that shares its low bits with a member is looked up in the map.
type runeSet [1 << 16 / 64]uint64

func (s *runeSet) add(r rune) { s[r>>6&1023] |= 1 << (r & 63) }

func (s *runeSet) mayHave(r rune) bool { return s[r>>6&1023]&(1<<(r&63)) != 0 }
