package normalize

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"gongdan/draft"
)

func TestUrgencyFromText(t *testing.T) {
	tests := []struct {
		name string
		text string
		want draft.Urgency
		kw   string
	}{
		{"red beats orange", "整条线停了，控制柜在冒烟", draft.UrgencyRed, "冒烟"},
		{"orange beats yellow", "请尽快处理，3号线停线了", draft.UrgencyOrange, "停线"},
		{"yellow", "麻烦今天内派人来", draft.UrgencyYellow, "今天内"},
		{"first of the level", "起火了！有人触电", draft.UrgencyRed, "起火"},
		{"24小时", "24小时内修好", draft.UrgencyYellow, "24小时"},
		{"none", "空调不制冷，不急", "", ""},
		{"negated keyword skipped", "无人员受伤，但产线停了", draft.UrgencyOrange, "产线停"},
		{"negated then plain", "没有冒烟，过了一会又冒烟了", draft.UrgencyRed, "冒烟"},
		{"不 is not a negation here", "这样不安全", draft.UrgencyRed, "安全"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, m, ok := UrgencyFromText(tt.text, DefaultUrgencyKeywords())
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.kw != "", ok)
			assert.Equal(t, tt.kw, m.Text)
			if ok {
				assert.Equal(t, string(tt.want), m.Value)
				assert.Equal(t, tt.text[m.Start:m.End], m.Text)
			}
		})
	}
}

func TestUrgencyFromTextCustomKeywords(t *testing.T) {
	kw := UrgencyKeywords{Orange: []string{"Line Down", ""}, Yellow: []string{"ASAP"}}
	got, m, ok := UrgencyFromText("asap please, LINE DOWN at 3号线", kw)
	assert.True(t, ok)
	assert.Equal(t, draft.UrgencyOrange, got)
	assert.Equal(t, Match{Value: "orange", Text: "LINE DOWN", Start: 13, End: 22}, m)
}

func TestDefaultUrgencyKeywordsIsACopy(t *testing.T) {
	a := DefaultUrgencyKeywords()
	a.Red[0] = "changed"
	assert.Equal(t, "安全", DefaultUrgencyKeywords().Red[0])
}
