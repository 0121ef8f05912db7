package normalize

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func phoneValues(ms []Match) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Value)
	}
	return out
}

func TestExtractPhones(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"plain mobile", "电话13812345678谢谢", []string{"13812345678"}},
		{"+86 grouped", "联系 +86 138 1234 5678", []string{"13812345678"}},
		{"86 prefix glued", "8613812345678", []string{"13812345678"}},
		{"0086 dashes", "0086-138-1234-5678", []string{"13812345678"}},
		{"dashed mobile", "王工 139-0000-1111 在现场", []string{"13900001111"}},
		{"two mobiles with slash", "13812345678/13900001111", []string{"13812345678", "13900001111"}},
		{"beijing landline", "座机010-12345678", []string{"010-12345678"}},
		{"suzhou landline with space", "0512-6789 1234", []string{"0512-67891234"}},
		{"parenthesised area code", "(021)12345678", []string{"021-12345678"}},
		{"full-width parentheses", "（0512）67891234", []string{"0512-67891234"}},
		{"extension 转", "0512-67891234转123", []string{"0512-67891234"}},
		{"extension dash", "010-12345678-123", []string{"010-12345678"}},
		{"landline 7 digits", "0731-8123456", []string{"0731-8123456"}},
		{"ticket id", "工单GD-20261123-000042已建", nil},
		{"date", "20261123", nil},
		{"order number", "订单号 202611231381234567890", nil},
		{"mobile inside longer digits", "913812345678", nil},
		{"12 digits", "138123456789", nil},
		{"serial with letters", "SN13812345678", nil},
		{"decimal", "1.3812345678", nil},
		{"dash-joined to code", "A-13812345678", nil},
		{"mobile then dash digits", "13812345678-0001", nil},
		{"bad second digit", "12812345678", nil},
		{"not across lines", "138\n1234\n5678", nil},
		{"landline area must start 0x non-zero", "000-12345678", nil},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ExtractPhones(tt.text)
			assert.Equal(t, tt.want, phoneValues(got))
			for _, m := range got {
				assert.Equal(t, tt.text[m.Start:m.End], m.Text)
			}
		})
	}
}

func TestExtractPhonesMatchText(t *testing.T) {
	text := "客户：+86 138 1234 5678，座机 0512-6789 1234 转 8"
	got := ExtractPhones(text)
	assert.Equal(t, []Match{
		{Value: "13812345678", Text: "+86 138 1234 5678", Start: 9, End: 26},
		{Value: "0512-67891234", Text: "0512-6789 1234", Start: 36, End: 50},
	}, got)
}
