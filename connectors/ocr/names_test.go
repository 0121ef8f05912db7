package ocr

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNamesSnapToKnownOnes(t *testing.T) {
	for _, c := range []struct {
		name  string
		read  []string  // the senders as read, in order
		conf  []float64 // their confidences (default 90)
		staff []string
		want  []string
	}{
		{"an unsure misread of a staff name", []string{"客服小干", "张三"}, []float64{60, 90}, []string{"客服小王"}, []string{"客服小王", "张三"}},
		{"a sure reading one apart from staff is a customer", []string{"客服小干"}, []float64{90}, []string{"客服小王"}, []string{"客服小干"}},
		{"customers of two characters are never taken for staff", []string{"李总", "李娜", "王工"}, []float64{60, 60, 60}, []string{"李工", "张工"},
			[]string{"李总", "李娜", "王工"}},
		{"two sure two-character readings are two people", []string{"李娜", "李娟"}, []float64{85, 93}, nil, []string{"李娜", "李娟"}},
		{"a misread of a name read more often", []string{"王经理", "干经理", "王经理"}, nil, nil, []string{"王经理", "王经理", "王经理"}},
		{"as often, the less sure reading gives way", []string{"周工", "同工"}, []float64{93, 60}, nil, []string{"周工", "周工"}},
		{"two apart: two people", []string{"王经理", "李总监"}, nil, nil, []string{"王经理", "李总监"}},
		{"one character: never snapped", []string{"王", "汪"}, []float64{90, 40}, nil, []string{"王", "汪"}},
		{"unknown names stay as read", []string{"陈女士"}, nil, []string{"李工"}, []string{"陈女士"}},
		{"a name with its organisation loses no character", []string{"(华东仓)张三", "华东仓)张三"}, []float64{91, 80}, nil,
			[]string{"(华东仓)张三", "(华东仓)张三"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			msgs := make([]Message, len(c.read))
			ptrs := make([]*Message, len(c.read))
			for i, n := range c.read {
				msgs[i] = Message{Sender: n, SenderConfidence: 90}
				if c.conf != nil {
					msgs[i].SenderConfidence = c.conf[i]
				}
				ptrs[i] = &msgs[i]
			}
			checkNames(ptrs, c.staff)
			var got []string
			for i, m := range msgs {
				got = append(got, m.Sender)
				if m.Sender != c.read[i] {
					assert.Contains(t, m.Cues, "name≈"+m.Sender+" (read "+c.read[i]+")", "a snapped name says so")
				}
			}
			assert.Equal(t, c.want, got)
		})
	}
}

// An O is read as 0 only where it is surely a digit: in a serial after SN, or between digits
// of a code. A word whose writer meant the letter keeps it.
func TestZeroesOnlyInCodes(t *testing.T) {
	for in, want := range map[string]string{
		"SN: AB7XBOLR":      "SN: AB7XB0LR",
		"SN AOOK1234":       "SN A00K1234",
		"设备编号E2O24110O8，谢谢": "设备编号E202411008，谢谢",
		"E2O2O11008":        "E202011008",
		"订单PO12345已付":       "订单PO12345已付",
		"型号 OX7000 的":       "型号 OX7000 的",
		"ROOM 1203":         "ROOM 1203",
		"COVID19":           "COVID19",
		"ORDER NO. 4O5":     "ORDER NO. 4O5",
		"编号 12O34":          "编号 12034",
		"12OO34":            "120034",
	} {
		assert.Equal(t, want, zeroesInCodes(in), in)
	}
}
