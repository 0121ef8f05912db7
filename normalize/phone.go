package normalize

import (
	"regexp"
	"strings"
)

var (
	// 1[3-9]X XXXX XXXX, optionally after +86, 86 or 0086, grouped 3-4-4 by single spaces or
	// dashes. Newlines are not separators: digits on two lines are two things.
	mobilePattern = regexp.MustCompile(`(?:(?:\+|00)?86[ -]?)?(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})`)
	// An area code (010, 02X, or 0 and three digits) then a 7- or 8-digit local number.
	landlinePattern = regexp.MustCompile(`(?:[(（]\s*(0(?:10|2\d|[3-9]\d{2}))\s*[)）]\s*|(0(?:10|2\d|[3-9]\d{2}))[ -]?)([1-9]\d{2,3})[ -]?(\d{4})`)
	// An extension after a landline: 转123, 分机 123, ext.123, -123. It is not part of the number.
	extensionPattern = regexp.MustCompile(`^\s*(?:转|分机|(?i:ext)\.?|-)\s*\d{1,6}`)

	// The patterns anchored, tried only where a number can begin (phoneStarts): a regexp
	// that looks for its match over a long text of Chinese (a ten-minute call's) cost a fifth
	// of the call's normalization.
	mobileAnchored   = anchored(mobilePattern)
	landlineAnchored = anchored(landlinePattern)
)

// phoneStart is where in text, from i, a phone number's match can next begin: a digit, +, ( or
// （; -1 when nowhere.
func phoneStart(text string, i int) int {
	for ; i < len(text); i++ {
		switch b := text[i]; {
		case '0' <= b && b <= '9', b == '+', b == '(':
			return i
		case b == 0xEF && strings.HasPrefix(text[i:], "（"):
			return i
		}
	}
	return -1
}

// phoneWindowLen bounds the input an anchored phone pattern is run on. Go's backtracker clears
// a bitmap the size of its input on every run, so running it on the rest of a long text at each
// digit made the phone search quadratic (a ten-minute call's turns: an eighth of its
// normalization). A mobile's match is at most 17 bytes, a landline's at most 21 besides the
// whitespace its \s* may take.
const phoneWindowLen = 64

// phoneWindow is text from i, cut to phoneWindowLen bytes where that cannot change what an
// anchored phone pattern matches: a match longer than the window would need more than
// phoneWindowLen-21 bytes of whitespace inside it, so a window with less whitespace than that
// holds every match whole; otherwise the text is left uncut.
func phoneWindow(text string, i int) string {
	rest := text[i:]
	if len(rest) <= phoneWindowLen {
		return rest
	}
	w, spaces := rest[:phoneWindowLen], 0
	for j := 0; j < len(w); j++ {
		switch w[j] {
		case ' ', '\t', '\n', '\v', '\f', '\r':
			spaces++
		}
	}
	if spaces >= phoneWindowLen-21-8 {
		return rest
	}
	return w
}

// mobileCanStart and landlineCanStart report whether a match of each pattern can begin at
// text[i], by the bytes it must begin with (a mobile: 1[3-9], or +86, 86, 0086; a landline:
// 010, 0[2-9], or an opening bracket): the patterns are run nowhere else, since most digits
// of a call begin no number. FuzzAnchoredPhones checks them against the unanchored search.
func mobileCanStart(text string, i int) bool {
	switch rest := text[i:]; rest[0] {
	case '1':
		return len(rest) > 1 && '3' <= rest[1] && rest[1] <= '9'
	case '8':
		return strings.HasPrefix(rest, "86")
	case '+':
		return strings.HasPrefix(rest, "+86")
	case '0':
		return strings.HasPrefix(rest, "0086")
	}
	return false
}

func landlineCanStart(text string, i int) bool {
	switch rest := text[i:]; rest[0] {
	case '0':
		return strings.HasPrefix(rest, "010") || len(rest) > 1 && '2' <= rest[1] && rest[1] <= '9'
	case '(':
		return true
	}
	return strings.HasPrefix(text[i:], "（")
}

// anchored is re matching only at the start of its input.
func anchored(re *regexp.Regexp) *regexp.Regexp {
	return regexp.MustCompile(`^(?:` + re.String() + `)`)
}

// ExtractPhones finds mainland Chinese phone numbers in text, in order of appearance (a number
// written twice is found twice).
//
// Mobiles (1[3-9]X, 11 digits, optional +86/86/0086 prefix, spaces or dashes in 3-4-4 grouping)
// are normalised to their 11 digits. Landlines need an area code (010-12345678, 0512-6789 1234,
// (021)12345678) and are normalised to "0512-67891234"; an extension (转123, -123) is neither in
// the value nor in Match.Text.
//
// It must never invent a number: digits glued to further letters or digits (order numbers,
// serials, ticket ids such as GD-20261123-000042, dates such as 20261123) are not a phone, and
// no digit is ever added, dropped or guessed.
func ExtractPhones(text string) []Match {
	var found []Match
	found = findBounded(found, text, mobileAnchored, mobileCanStart, false, func(g []string) string {
		return g[1] + g[2] + g[3]
	})
	found = findBounded(found, text, landlineAnchored, landlineCanStart, true, func(g []string) string {
		area := g[1]
		if area == "" {
			area = g[2]
		}
		return area + "-" + g[3] + g[4]
	})
	return dropOverlaps(found)
}

// findBounded appends every match of re (anchored: it is tried at each byte a number can begin
// with, left to right, as an unanchored search would find them) that stands on its own in
// text. When a match is glued to a longer code, the search resumes one byte after its start, so
// "订单913812345678" yields nothing while "电话13812345678" still yields the number.
func findBounded(out []Match, text string, re *regexp.Regexp, canStart func(string, int) bool, allowExtension bool, value func([]string) string) []Match {
	for i := 0; i < len(text); {
		if i = phoneStart(text, i); i < 0 {
			break
		}
		if !canStart(text, i) {
			i++ // no match of re begins here: no need to run it
			continue
		}
		loc := re.FindStringSubmatchIndex(phoneWindow(text, i))
		if loc == nil {
			i++
			continue
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

// standsAlone reports whether text[start:end] is not part of a longer code: no ASCII letter or
// digit touches it, nor does one behind a joining '-', '_' or '.' (GD-2026…, 1.38…, …-0001).
func standsAlone(text string, start, end int) bool {
	if start > 0 {
		b := text[start-1]
		if isASCIIAlnum(b) {
			return false
		}
		if isJoiner(b) && start > 1 && isASCIIAlnum(text[start-2]) {
			return false
		}
	}
	if end < len(text) {
		b := text[end]
		if isASCIIAlnum(b) {
			return false
		}
		if isJoiner(b) && end+1 < len(text) && isASCIIAlnum(text[end+1]) {
			return false
		}
	}
	return true
}

func isJoiner(b byte) bool { return b == '-' || b == '_' || b == '.' }
