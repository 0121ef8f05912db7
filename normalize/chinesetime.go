package normalize

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// One date/time expression: an optional date (2026年11月23日, 2026-11-23, 11月23日, 今天/昨天/
// 前天/明天/后天, 昨晚/今早…), an optional part of the day (上午, 下午, 晚上…) and a time of day,
// which is required (9:42, 14时05分, 3点, 8点半, 10点一刻).
var chineseTimePattern = regexp.MustCompile(`(?:` +
	`(?P<y>\d{4})\s*年\s*(?P<mo>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号]` +
	`|(?P<isoy>\d{4})[-/.](?P<isomo>\d{1,2})[-/.](?P<isod>\d{1,2})` +
	`|(?P<mdmo>\d{1,2})\s*月\s*(?P<mdd>\d{1,2})\s*[日号]` +
	`|(?P<rel>今天|今日|昨天|昨日|前天|明天|明日|后天|今早|今晚|昨晚|明早|明晚)` +
	`)?\s*(?P<part>凌晨|早上|早晨|清晨|上午|中午|下午|傍晚|晚上)?\s*(?:` +
	`(?P<h>\d{1,2})\s*[:：]\s*(?P<mi>\d{2})(?:[:：](?P<s>\d{2}))?` +
	`|(?P<ph>\d{1,2})\s*[点时](?:(?P<pmi>\d{2})分?|(?P<pmi1>\d)分|(?P<half>半)|(?P<quarter>一刻|三刻))?` +
	`)`)

var relativeDays = map[string]struct {
	days int
	part string
}{
	"今天": {0, ""}, "今日": {0, ""}, "昨天": {-1, ""}, "昨日": {-1, ""}, "前天": {-2, ""},
	"明天": {1, ""}, "明日": {1, ""}, "后天": {2, ""},
	"今早": {0, "早上"}, "今晚": {0, "晚上"}, "昨晚": {-1, "晚上"},
	"明早": {1, "早上"}, "明晚": {1, "晚上"},
}

// ParseChineseTime finds the first date/time expression in text and resolves it in now's
// location. Match.Value is the result in RFC 3339.
//
// Rules, and the only ones: a time without a date is on now's date; 今天/昨天/前天/明天/后天 count
// calendar days from now's date; 11月23日 without a year is in now's year; 下午 and 傍晚 add 12 h
// to hours 1–11, 晚上 to hours 5–11, 中午 to hours 1–2; 凌晨12点 is 00:00. A 点/时 time needs a
// date or a part of the day with it (a bare "3点" may be "3 points"); an H:MM time does not.
//
// It must never return a time it had to guess: a date with no time of day, an impossible date
// (2月30日) or time (25:00, 上午14点), 晚上1点 to 晚上4点 (01:00 or 13:00?) and 晚上12点 (midnight
// of which day?) are not returned, and the search moves on to the next expression.
func ParseChineseTime(text string, now time.Time) (time.Time, Match, bool) {
	for i := 0; i < len(text); {
		// Every expression ends in a time of day; where none is left, the pattern (whose
		// optional lead gives the regexp engine no literal to skip ahead with) need not run.
		if !hasTimeOfDay(text[i:]) {
			break
		}
		loc := chineseTimePattern.FindStringSubmatchIndex(text[i:])
		if loc == nil {
			break
		}
		start, end := i+loc[0], i+loc[1]
		g := func(name string) string {
			k := chineseTimePattern.SubexpIndex(name)
			if loc[2*k] < 0 {
				return ""
			}
			return text[i+loc[2*k] : i+loc[2*k+1]]
		}
		for start < end && isBlank(text[start]) {
			start++ // the pattern may begin at the blank before a time without a date
		}
		if !standsApartFromDigits(text, start, end) {
			i = start + 1
			continue
		}
		t, ok := resolveChineseTime(g, now)
		if ok {
			return t, newMatch(text, start, end, t.Format(time.RFC3339)), true
		}
		// An impossible or ambiguous expression is skipped whole: its time of day alone would be
		// a guess about the date.
		i = end
	}
	return time.Time{}, Match{}, false
}

// hasTimeOfDay reports whether text has an ASCII digit followed, after optional blanks, by
// one of : ： 点 时 — what every match of chineseTimePattern contains.
func hasTimeOfDay(text string) bool {
	for i := 0; i < len(text); i++ {
		if !isASCIIDigit(text[i]) {
			continue
		}
		j := i + 1
		for j < len(text) && isBlank(text[j]) {
			j++
		}
		rest := text[j:]
		if strings.HasPrefix(rest, ":") || strings.HasPrefix(rest, "：") || strings.HasPrefix(rest, "点") || strings.HasPrefix(rest, "时") {
			return true
		}
	}
	return false
}

// standsApartFromDigits rejects an expression that is the tail or head of a longer number:
// "120261123 9:42" is not a date, nor is "19:423" a time.
func standsApartFromDigits(text string, start, end int) bool {
	if start > 0 && isASCIIDigit(text[start-1]) {
		return false
	}
	return end == len(text) || !isASCIIDigit(text[end]) || !isASCIIDigit(text[end-1])
}

func resolveChineseTime(g func(string) string, now time.Time) (time.Time, bool) {
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	y, mo, d := now.Date()
	hasDate := true
	switch {
	case g("y") != "":
		y, mo, d = atoi(g("y")), time.Month(atoi(g("mo"))), atoi(g("d"))
	case g("isoy") != "":
		y, mo, d = atoi(g("isoy")), time.Month(atoi(g("isomo"))), atoi(g("isod"))
	case g("mdmo") != "":
		mo, d = time.Month(atoi(g("mdmo"))), atoi(g("mdd"))
	case g("rel") != "":
	default:
		hasDate = false
	}
	if y < 1 || mo < 1 || mo > 12 || d < 1 || d > 31 {
		return time.Time{}, false
	}
	part := g("part")
	days := 0
	if rel, ok := relativeDays[g("rel")]; ok {
		days = rel.days
		if part == "" {
			part = rel.part
		}
	}

	var hour, minute, second int
	if g("h") != "" {
		hour, minute, second = atoi(g("h")), atoi(g("mi")), atoi(g("s"))
	} else {
		if !hasDate && part == "" {
			return time.Time{}, false
		}
		hour = atoi(g("ph"))
		switch {
		case g("pmi") != "":
			minute = atoi(g("pmi"))
		case g("pmi1") != "":
			minute = atoi(g("pmi1"))
		case g("half") != "":
			minute = 30
		case g("quarter") == "一刻":
			minute = 15
		case g("quarter") == "三刻":
			minute = 45
		}
	}
	if minute > 59 || second > 59 || hour > 23 {
		return time.Time{}, false
	}
	switch part {
	case "":
	case "凌晨":
		if hour == 12 {
			hour = 0
		} else if hour > 6 {
			return time.Time{}, false
		}
	case "早上", "早晨", "清晨", "上午":
		if hour > 12 {
			return time.Time{}, false
		}
	case "中午": // 11 to 2 o'clock
		switch {
		case hour == 1 || hour == 2:
			hour += 12
		case hour < 11 || hour > 14:
			return time.Time{}, false
		}
	case "下午", "傍晚":
		if hour == 0 {
			return time.Time{}, false
		}
		if hour < 12 {
			hour += 12
		}
	case "晚上": // 晚上1点 is as often 01:00 as 13:00, and 晚上12点 is midnight of which day?
		switch {
		case hour >= 5 && hour <= 11:
			hour += 12
		case hour < 17:
			return time.Time{}, false
		}
	}
	t := time.Date(y, mo, d, hour, minute, second, 0, now.Location())
	if ty, tmo, td := t.Date(); ty != y || tmo != mo || td != d {
		return time.Time{}, false // 2月30日 would roll over into March
	}
	if days != 0 {
		t = time.Date(y, mo, d+days, hour, minute, second, 0, now.Location())
	}
	return t, true
}
