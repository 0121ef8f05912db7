package normalize

import (
	"bytes"
	"strings"
	"testing"

	"gongdan/configs/dictionaries"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadDictionaryErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"unknown key has its line", "categories:\n  - name: 漏水\n    keywords: [漏水]\n    colour: blue\n", []string{"line 4", "colour"}},
		{"unknown top-level key", "categorys:\n  - name: 漏水\n", []string{"line 1", "categorys"}},
		{"empty", "", []string{"empty"}},
		{"no categories", "categories: []\n", []string{"no categories"}},
		{"no name", "categories:\n  - name: 漏水\n    keywords: [漏水]\n  - keywords: [漏油]\n", []string{"line 4", "categories[1]", "no name"}},
		{"duplicate", "categories:\n  - name: 漏水\n    keywords: [漏水]\n  - name: 漏水\n    keywords: [渗水]\n", []string{"line 4", "listed twice"}},
		{"no terms", "categories:\n  - name: 漏水\n", []string{"line 2", "no keywords"}},
		{"empty term", "categories:\n  - name: 漏水\n    keywords: [漏水, \"\"]\n", []string{"line 2", "empty keyword"}},
		{"not yaml", "categories: [", []string{"dictionary"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadDictionary(strings.NewReader(tt.yaml))
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

const testDictionary = `categories:
  - name: 急停故障
    keywords: [急停, 紧急停止]
    synonyms: [E-STOP, estop]
  - name: 设备过热
    keywords: [过热, 温度过高]
  - name: 网络故障
    keywords: [断网]
    synonyms: [wifi]
`

func TestClassify(t *testing.T) {
	d, err := LoadDictionary(strings.NewReader(testDictionary))
	require.NoError(t, err)
	tests := []struct {
		name     string
		text     string
		category string
		tags     []string
		match    Match
	}{
		{"keyword", "3号线急停按钮失灵", "急停故障", []string{"急停故障"}, Match{Value: "急停故障", Text: "急停", Start: 7, End: 13}},
		{"latin any case", "E-Stop pressed", "急停故障", []string{"急停故障"}, Match{Value: "急停故障", Text: "E-Stop", Start: 0, End: 6}},
		{"more hits win", "电机过热，温度过高，急停了", "设备过热", []string{"设备过热", "急停故障"}, Match{Value: "设备过热", Text: "温度过高", Start: 15, End: 27}},
		{"equal hits: longer term wins", "断网后紧急停止", "急停故障", []string{"急停故障", "网络故障"}, Match{Value: "急停故障", Text: "紧急停止", Start: 9, End: 21}},
		{"equal hits and length: earlier wins", "过热后断网", "设备过热", []string{"设备过热", "网络故障"}, Match{Value: "设备过热", Text: "过热", Start: 0, End: 6}},
		{"nested term counts once", "紧急停止，过热，温度过高", "设备过热", []string{"设备过热", "急停故障"}, Match{Value: "设备过热", Text: "温度过高", Start: 24, End: 36}},
		{"latin not inside a word", "bestop and wifis", "", nil, Match{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			category, tags, m, ok := d.Classify(tt.text)
			assert.Equal(t, tt.category != "", ok)
			assert.Equal(t, tt.category, category)
			assert.Equal(t, tt.tags, tags)
			assert.Equal(t, tt.match, m)
		})
	}
}

func TestShippedFaultsDictionary(t *testing.T) {
	d, err := LoadDictionary(bytes.NewReader(dictionaries.Faults))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(d.categories), 12)
	for text, want := range map[string]string{
		"3号线急停按钮按下去没反应": "急停故障",
		"电机温度过高一直报警":    "设备过热",
		"网关掉线了，平台显示离线":  "设备离线",
		"车间屋顶漏水":        "漏水",
		"设备下面一滩油，油管在渗油": "漏油",
		"配电柜跳闸了":        "电气故障",
		"办公室空调不制冷":      "空调故障",
		"货梯困人":          "电梯故障",
		"车间断网，交换机灯不亮":   "网络故障",
		"光电开关读数异常":      "传感器故障",
		"油缸压力不足":        "液压故障",
		"主轴有异响，振动很大":    "异响振动",
	} {
		got, _, _, ok := d.Classify(text)
		assert.True(t, ok, text)
		assert.Equal(t, want, got, text)
	}
}

// The lock category keys on locks people live behind, not on 门锁, which machines' safety
// interlocks, cabinets and lift landing doors have too: those keep their own categories.
func TestLocksAreNotInterlocks(t *testing.T) {
	d, err := LoadDictionary(bytes.NewReader(dictionaries.Faults))
	require.NoError(t, err)
	for text, want := range map[string]string{
		"设备门锁信号丢失 PLC 报警": "控制系统故障",
		"机柜门锁坏了 漏水":       "漏水",
		"厅门门锁短接了，电梯停了":    "电梯故障",
		"家里的指纹锁按了没反应":     "门锁故障",
		"入户门锁打不开":         "门锁故障",
	} {
		cat, _, _, _ := d.Classify(text)
		assert.Equal(t, want, cat, text)
	}
}
