package ocr

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// A time separator is the grey label WeChat centres between messages when a few minutes
// have passed. In the zh-CN locale it reads, for a message of:
//
//	today              9:42 · 上午 9:42 · 下午 3:20 · 晚上 8:15 · 凌晨 1:05 · 中午 12:30
//	yesterday          昨天 14:05 · 昨天 下午 2:05
//	this week          星期一 08:10 · 周一 08:10
//	earlier this year  1月5日 下午3:20
//	an earlier year    2026年1月5日 下午3:20
//
// with a 12-hour clock when the phone has one (the period word says which half) and a
// 24-hour clock otherwise.
var separatorPattern = regexp.MustCompile(`^(?:(\d{4})年)?(?:(\d{1,2})月(\d{1,2})日)?(昨天|前天|星期[一二三四五六日天]|周[一二三四五六日天])?(凌晨|早上|上午|中午|下午|晚上)?(\d{1,2}):(\d{2})$`)

var weekdays = map[string]time.Weekday{"日": time.Sunday, "天": time.Sunday, "一": time.Monday, "二": time.Tuesday,
	"三": time.Wednesday, "四": time.Thursday, "五": time.Friday, "六": time.Saturday}

// parseSeparator reads a time separator and resolves it against at, the moment the
// screenshot was taken (or uploaded), in at's location. ok is false for text that is not one.
func parseSeparator(text string, at time.Time) (time.Time, bool) {
	s := compactTime(text)
	m := separatorPattern.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, false
	}
	hour, _ := strconv.Atoi(m[6])
	minute, _ := strconv.Atoi(m[7])
	if minute > 59 || hour > 23 {
		return time.Time{}, false
	}
	switch m[5] {
	case "下午", "晚上":
		if hour < 12 {
			hour += 12
		}
	case "中午":
		if hour < 11 { // 中午 1:10 is 13:10; 中午 12:30 is 12:30
			hour += 12
		}
	case "凌晨", "早上", "上午":
		if hour == 12 {
			hour = 0
		}
	}
	loc := at.Location()
	y, mo, d := at.Date()
	day := time.Date(y, mo, d, 0, 0, 0, 0, loc)
	switch {
	case m[2] != "": // a date
		month, _ := strconv.Atoi(m[2])
		dom, _ := strconv.Atoi(m[3])
		if month < 1 || month > 12 || dom < 1 || dom > 31 {
			return time.Time{}, false
		}
		year := y
		if m[1] != "" {
			year, _ = strconv.Atoi(m[1])
		}
		day = time.Date(year, time.Month(month), dom, 0, 0, 0, 0, loc)
		if day.Day() != dom { // 2月30日: no such day
			return time.Time{}, false
		}
		if m[1] == "" && day.After(at) { // "12月30日" seen on 1 January is last year's
			day = day.AddDate(-1, 0, 0)
		}
	case m[4] == "昨天":
		day = day.AddDate(0, 0, -1)
	case m[4] == "前天":
		day = day.AddDate(0, 0, -2)
	case m[4] != "":
		rs := []rune(m[4])
		want := weekdays[string(rs[len(rs)-1])]
		back := (int(at.Weekday()) - int(want) + 7) % 7
		if back == 0 { // today shows no weekday: the same weekday is a week ago
			back = 7
		}
		day = day.AddDate(0, 0, -back)
	}
	y, mo, d = day.Date()
	t := time.Date(y, mo, d, hour, minute, 0, 0, loc)
	if m[2] == "" && m[4] == "" && t.After(at) {
		// A bare time later than the screenshot: taken before midnight and uploaded after it.
		t = time.Date(y, mo, d-1, hour, minute, 0, 0, loc)
	}
	return t, true
}

// compactTime drops the spaces OCR puts in or leaves out, and makes full-width digits and
// colons plain.
func compactTime(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == ' ' || r == '\t' || r == '\u3000':
		case r >= '０' && r <= '９':
			b.WriteRune('0' + (r - '０'))
		case r == '：' || r == '∶':
			b.WriteRune(':')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
