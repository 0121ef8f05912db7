package logging

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// What MaskPhones takes for a phone number, and why.
//
// A log line is not a form: numbers turn up inside other text (tel13812345678x,
// 订单13812345678已, phone=13812345678&, {"phone":"13812345678"}), typed with full-width digits
// (１３８１２３４５６７８) or grouped with whatever the sender had at hand (138 1234 5678,
// 138-1234-5678, 138.1234.5678, 138_1234_5678, +86 138…, 0086-138…, (+86)138…). So the rule
// is about digits only:
//
//   - A mobile is 1[3-9] and nine more digits, ASCII or full-width, grouped 3-4-4 with up to
//     three separators (spaces, '-', '.', '_', and their full-width forms, dashes) between the
//     groups, optionally after a country code (+86, 0086, 86, (+86)). It becomes 138****5678,
//     the country code and separators dropped.
//   - A landline is an area code (010, 02X, 0XXX), possibly in brackets, then 7 or 8 digits
//     grouped as above. It becomes 0512-****1234; an extension after it (转88, -88) stays.
//   - Letters and CJK around a number do not protect it: tel13812345678x is masked. Digits
//     do: a number glued to more digits, directly or through '-', '.' or '_'
//     (202612071234567890, 2026-13812345678, 138-1234-5678-9012), is part of a longer code
//     (an order number, a serial, a card) and is left whole rather than half-masked into
//     nonsense. Spaces and other punctuation do not glue: "13812345678 13912345678" is two
//     numbers.
//
// What this costs: a bounded 11-digit number starting 13-19 that is not a phone (a byte count
// of 13 GB, an 11-digit run inside a hexadecimal id) is masked too. In a log that is the
// right way to be wrong.
var (
	mobilePattern = regexp.MustCompile(
		`(?:(?:[+＋]|00|００)?[8８][6６]` + sep + `|[(（]\s*(?:[+＋]|00|００)?[8８][6６]\s*[)）]` + sep + `)?` +
			`([1１][3-9３-９]` + digit + `)` + sep + `(` + digit + `{4})` + sep + `(` + digit + `{4})`)
	landlinePattern = regexp.MustCompile(
		`(?:[(（]\s*(` + areaCode + `)\s*[)）]\s*|(` + areaCode + `)` + sep + `)` +
			`([1-9１-９]` + digit + `{2,3})` + sep + `(` + digit + `{4})`)
)

const (
	digit = `[0-9０-９]`
	// Up to three separators between digit groups ("138 - 1234 - 5678"); never a newline:
	// digits on two lines are two things.
	sep      = `[ \t._\-\x{00A0}\x{2010}-\x{2015}\x{2212}\x{3000}\x{FF0D}\x{FF0E}\x{FF3F}]{0,3}`
	areaCode = `[0０](?:[1１][0０]|[2２]` + digit + `|[3-9３-９]` + digit + `{2})`
	// maxPasses bounds MaskPhones' rescans (see there); each pass that changes anything
	// removes digits, so two are all any input has needed.
	maxPasses = 4
)

// MaskPhones hides the middle of every mainland phone number in s: mobiles become
// 138****5678, landlines 0512-****1234. What counts as a phone is described above
// mobilePattern. MaskPhones is idempotent, never panics, and copies bytes that are not part
// of a number (invalid UTF-8 included) as they are.
func MaskPhones(s string) string {
	if countDigits(s) < 10 { // the shortest landline, 010 and 7 digits
		return s
	}
	// A masked number leaves its last four digits in place; rescanning until nothing
	// changes makes sure they cannot combine with what follows into a number that the
	// next call would mask, so masking twice is masking once.
	for range maxPasses {
		masked := maskLandlines(maskMobiles(s))
		if masked == s {
			break
		}
		s = masked
	}
	return s
}

func maskMobiles(s string) string {
	return replaceBounded(s, mobilePattern, true, func(g []string) string {
		return asciiDigits(g[1]) + "****" + asciiDigits(g[3])
	})
}

func maskLandlines(s string) string {
	// A digit glued on the right through '-' is an extension (010-12345678-8001), not a
	// longer code.
	return replaceBounded(s, landlinePattern, false, func(g []string) string {
		area := g[1]
		if area == "" {
			area = g[2]
		}
		return asciiDigits(area) + "-****" + asciiDigits(g[4])
	})
}

// replaceBounded replaces each match of re in s that is not glued to more digits (see the
// rule above) with mask(submatches). A glued match is skipped and the search goes on from its
// second character, so "8613812345678" still finds the number after the country code and
// "913812345678" finds nothing.
func replaceBounded(s string, re *regexp.Regexp, rightJoinerGlues bool, mask func([]string) string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		loc := re.FindStringSubmatchIndex(s[i:])
		if loc == nil {
			break
		}
		start, end := i+loc[0], i+loc[1]
		if gluedBefore(s[:start]) || gluedAfter(s[end:], rightJoinerGlues) {
			_, size := utf8.DecodeRuneInString(s[start:])
			i = start + size
			continue
		}
		groups := make([]string, len(loc)/2)
		for g := range groups {
			if loc[2*g] >= 0 {
				groups[g] = s[i+loc[2*g] : i+loc[2*g+1]]
			}
		}
		b.WriteString(s[last:start])
		b.WriteString(mask(groups))
		last, i = end, end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// gluedBefore reports whether a number starting right after before continues a longer digit
// code: a digit touches it, or a joiner with a digit before it.
func gluedBefore(before string) bool {
	r, size := utf8.DecodeLastRuneInString(before)
	if isDigit(r) {
		return true
	}
	if !isJoiner(r) {
		return false
	}
	r, _ = utf8.DecodeLastRuneInString(before[:len(before)-size])
	return isDigit(r)
}

// gluedAfter is gluedBefore for the text after a number.
func gluedAfter(after string, joinerGlues bool) bool {
	r, size := utf8.DecodeRuneInString(after)
	if isDigit(r) {
		return true
	}
	if !joinerGlues || !isJoiner(r) {
		return false
	}
	r, _ = utf8.DecodeRuneInString(after[size:])
	return isDigit(r)
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' || r >= '０' && r <= '９' }

// isJoiner: the characters that join digit groups into one code (GD-2026…, 1.38…, a_1…).
func isJoiner(r rune) bool {
	switch r {
	case '-', '.', '_', '－', '．', '＿':
		return true
	}
	return false
}

// asciiDigits keeps the digits of s, full-width ones as ASCII.
func asciiDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r >= '０' && r <= '９':
			b.WriteRune('0' + r - '０')
		}
	}
	return b.String()
}

// countDigits counts ASCII and full-width digits, a cheap way to skip strings that cannot
// hold a phone number (most log strings).
func countDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			n++
		// Full-width digits are EF BC 90 to EF BC 99 in UTF-8.
		case c == 0xEF && i+2 < len(s) && s[i+1] == 0xBC && s[i+2] >= 0x90 && s[i+2] <= 0x99:
			n++
			i += 2
		}
	}
	return n
}
