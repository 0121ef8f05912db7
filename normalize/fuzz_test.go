package normalize

import (
	"regexp"
	"testing"
	"time"
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
