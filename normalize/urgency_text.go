package normalize

import (
	"strings"

	"gongdan/draft"
)

// UrgencyKeywords are the words that raise a request's urgency, one list per level above blue.
// Latin letters match in any case.
type UrgencyKeywords struct {
	Red    []string `yaml:"red" json:"red"`       // safety risk
	Orange []string `yaml:"orange" json:"orange"` // stops a production line
	Yellow []string `yaml:"yellow" json:"yellow"` // respond within 24 h
}

// DefaultUrgencyKeywords returns the keywords service teams start from. It returns a new value on
// every call, so a caller that changes its copy changes no one else's.
func DefaultUrgencyKeywords() UrgencyKeywords {
	return UrgencyKeywords{
		Red:    []string{"安全", "困人", "被困", "冒烟", "起火", "着火", "漏电", "触电", "人员受伤", "爆炸", "燃气泄漏"},
		Orange: []string{"停产", "停线", "停机", "产线停", "整条线", "无法生产"},
		Yellow: []string{"尽快", "今天内", "24小时", "加急"},
	}
}

// UrgencyFromText returns the highest urgency whose keyword occurs in text, with the first
// occurrence of that level's keywords as the match (Value is the level). It reports false when no
// keyword occurs; blue, the default, is then the caller's choice. A keyword right after 无, 没,
// 没有 or 未 is negated and does not count ("无人员受伤"); "不安全" still counts.
//
// It must never invent urgency: it reads only the keywords and the negations right before them,
// so a caller should keep the match as evidence for a person to check.
func UrgencyFromText(text string, kw UrgencyKeywords) (draft.Urgency, Match, bool) {
	lower := asciiLower(text)
	levels := []struct {
		urgency  draft.Urgency
		keywords []string
	}{{draft.UrgencyRed, kw.Red}, {draft.UrgencyOrange, kw.Orange}, {draft.UrgencyYellow, kw.Yellow}}
	for _, level := range levels {
		best := Match{Start: -1}
		for _, k := range level.keywords {
			k = asciiLower(k)
			if k == "" {
				continue
			}
			i := indexNotNegated(lower, k)
			if i < 0 {
				continue
			}
			if best.Start < 0 || i < best.Start || i == best.Start && i+len(k) > best.End {
				best = newMatch(text, i, i+len(k), string(level.urgency))
			}
		}
		if best.Start >= 0 {
			return level.urgency, best, true
		}
	}
	return "", Match{}, false
}

// indexNotNegated is the first index of keyword in text that no negation (无, 没, 没有, 未)
// directly precedes, or -1.
func indexNotNegated(text, keyword string) int {
	for from := 0; from <= len(text)-len(keyword); {
		i := strings.Index(text[from:], keyword)
		if i < 0 {
			return -1
		}
		i += from
		before := text[:i]
		if !strings.HasSuffix(before, "无") && !strings.HasSuffix(before, "没") &&
			!strings.HasSuffix(before, "没有") && !strings.HasSuffix(before, "未") {
			return i
		}
		from = i + len(keyword)
	}
	return -1
}
