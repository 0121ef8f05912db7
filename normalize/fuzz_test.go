package normalize

import (
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
)

// checkMatch fails unless m's offsets slice text to exactly m.Text.
func checkMatch(t *testing.T, text string, m Match) {
	t.Helper()
	if m.Start < 0 || m.Start > m.End || m.End > len(text) {
		t.Fatalf("match %+v out of range for %d bytes", m, len(text))
	}
	if text[m.Start:m.End] != m.Text {
		t.Fatalf("text[%d:%d] = %q, match says %q", m.Start, m.End, text[m.Start:m.End], m.Text)
	}
}

var phoneValue = regexp.MustCompile(`^(?:1[3-9]\d{9}|0(?:10|2\d|[3-9]\d{2})-[1-9]\d{6,7})$`)

func FuzzExtractPhones(f *testing.F) {
	for _, s := range []string{
		"电话13812345678", "+86 138 1234 5678", "0086-138-1234-5678", "0512-6789 1234转123",
		"(021)12345678", "（0512）67891234", "GD-20261123-000042", "wxid_8613812345678", "\xff1381234567\x80",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		end := -1
		for _, m := range ExtractPhones(text) {
			checkMatch(t, text, m)
			if !phoneValue.MatchString(m.Value) {
				t.Fatalf("value %q of %q is not a normalised phone", m.Value, m.Text)
			}
			if m.Start < end {
				t.Fatalf("match %+v overlaps the one before", m)
			}
			end = m.End
		}
	})
}

func FuzzParseChineseTime(f *testing.F) {
	for _, s := range []string{
		"上午 9:42", "今天下午3点", "前天晚上8点半", "2026年11月23日14时05分", "2026-11-23 14:05",
		"11月23日 9:30", "凌晨12点", "中午1点", "2月30日 9:00", "19:423", "昨晚9点5分", "\xe4\xb8下午3点",
		"9 :42", "3\t点", "12：05", "无时间 13812345678",
	} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
	f.Fuzz(func(t *testing.T, text string) {
		// The prefilter must never hide an expression the pattern would find.
		if chineseTimePattern.MatchString(text) && !hasTimeOfDay(text) {
			t.Fatalf("the pattern matches %q but hasTimeOfDay says there is no time of day", text)
		}
		got, m, ok := ParseChineseTime(text, now)
		if !ok {
			if m != (Match{}) || !got.IsZero() {
				t.Fatalf("not found, yet returned %s and %+v", got, m)
			}
			return
		}
		checkMatch(t, text, m)
		if m.Text == "" {
			t.Fatalf("empty match for %s", got)
		}
		if got.Location() != now.Location() {
			t.Fatalf("location %s, want now's", got.Location())
		}
		if m.Value != got.Format(time.RFC3339) {
			t.Fatalf("value %q, time %s", m.Value, got)
		}
	})
}

func FuzzSpokenToDigits(f *testing.F) {
	for _, s := range []string{
		"一八六 幺二三四 五六七八", "幺三九，幺零零八，六六七七", "138 零零 1234", "SN零四二七杠零零幺九",
		"s n 零四二七 杠 零零幺九", "E二零二四幺幺零零八", "四百零六号十一楼", "一千零二", "一万二", "两千",
		"我家在三单元五零二", "二零二四年十二月", "第三次打了", "十万火急", "您稍等一下", "三三两两",
		"v二点三点一", "三点零五分", "二三十", "房间五零二，一八六 幺二三四 五六七八", "3十", "一 八 六",
		"SN杠KS二杠零零九三", "\xe4\xb8一二三\x80", "GD-20261123-000042",
		"\xe4\xba0零，一 幺A000", // 一 幺 joined is a group of two, as a second pass sees it
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		out, spans := Spoken(text)
		if again := SpokenToDigits(out); again != out {
			t.Fatalf("not idempotent: %q → %q → %q", text, out, again)
		}
		if !strings.ContainsFunc(text, isSpokenNumeral) && (out != text || spans != nil) {
			t.Fatalf("%q has no numeral, yet became %q", text, out)
		}
		end, outEnd := 0, 0
		for _, sp := range spans {
			if sp.Start < end || sp.End <= sp.Start || sp.End > len(text) || sp.OutStart < outEnd || sp.OutEnd > len(out) {
				t.Fatalf("span %+v out of order or range (%d bytes in, %d out)", sp, len(text), len(out))
			}
			if text[sp.Start:sp.End] != sp.Text || out[sp.OutStart:sp.OutEnd] != sp.Value {
				t.Fatalf("span %+v does not slice its texts", sp)
			}
			if text[end:sp.Start] != out[outEnd:sp.OutStart] {
				t.Fatalf("text between spans changed: %q → %q", text[end:sp.Start], out[outEnd:sp.OutStart])
			}
			if !strings.ContainsFunc(sp.Text, isSpokenNumeral) {
				t.Fatalf("span %+v rewrote text without a numeral", sp)
			}
			checkSpokenSpan(t, sp)
			end, outEnd = sp.End, sp.OutEnd
		}
		if text[end:] != out[outEnd:] {
			t.Fatalf("text after the last span changed: %q → %q", text[end:], out[outEnd:])
		}
	})
}

// checkSpokenSpan fails unless every digit and letter of a span's Value comes from its Text:
// a digit from the same ASCII digit or a numeral for it (a 0 may come from a unit, a 1 from
// 十, as in 一千零二 and 十五), a letter from the same letter in either case.
func checkSpokenSpan(t *testing.T, sp SpokenSpan) {
	t.Helper()
	var have, used [128]int
	units, tens := 0, 0
	for _, r := range sp.Text {
		switch d, ok := spokenDigit(r); {
		case ok:
			have['0'+d]++
		case spokenUnit(r) != 0:
			units++
			if spokenUnit(r) == 10 {
				tens++
			}
		case r < 128:
			have[unicode.ToUpper(r)]++
		}
	}
	have['0'] += 4 * units
	have['1'] += tens
	for _, r := range sp.Value {
		switch {
		case r >= '0' && r <= '9' || r >= 'A' && r <= 'Z':
			used[r]++
		case r >= 'a' && r <= 'z':
			used[unicode.ToUpper(r)]++
		case strings.ContainsRune("-. \t,，、　", r):
		default:
			t.Fatalf("span %+v: %q in the value", sp, r)
		}
	}
	for c := range used {
		if used[c] > have[c] {
			t.Fatalf("span %+v: %d × %q in the value, %d in what was said", sp, used[c], rune(c), have[c])
		}
	}
}
