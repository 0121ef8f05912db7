package normalize

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestExtractAddress(t *testing.T) {
	tests := []struct {
		name string
		text string
		want Address
		ok   bool
	}{
		{"park without 市", "地址：苏州工业园区星湖街328号，请尽快", Address{City: "苏州", District: "工业园区", Street: "星湖街", Number: "328号", Full: "苏州工业园区星湖街328号"}, true},
		{"province to room", "江苏省苏州市工业园区星湖街328号3栋201室", Address{Province: "江苏", City: "苏州", District: "工业园区", Street: "星湖街", Number: "328号", Full: "江苏省苏州市工业园区星湖街328号3栋201室"}, true},
		{"shanghai", "上海市浦东新区张江路88号", Address{Province: "上海", City: "上海", District: "浦东新区", Street: "张江路", Number: "88号", Full: "上海市浦东新区张江路88号"}, true},
		{"beijing 大街", "在北京市海淀区中关村大街1号B座", Address{Province: "北京", City: "北京", District: "海淀区", Street: "中关村大街", Number: "1号", Full: "北京市海淀区中关村大街1号B座"}, true},
		{"building with spaces", "公司在杭州市滨江区江南大道 3888 号 2幢 5楼", Address{City: "杭州", District: "滨江区", Street: "江南大道", Number: "3888号", Full: "杭州市滨江区江南大道 3888 号 2幢 5楼"}, true},
		{"unlisted city after province", "浙江省乐清市柳市镇长虹路9号", Address{Province: "浙江", City: "乐清", District: "", Street: "长虹路", Number: "9号", Full: "浙江省乐清市柳市镇长虹路9号"}, true},
		{"street after cue", "我们厂在星湖街328号", Address{Street: "星湖街", Number: "328号", Full: "星湖街328号"}, true},
		{"city and district only", "苏州市吴中区的设备", Address{City: "苏州", District: "吴中区", Full: "苏州市吴中区"}, true},
		{"city alone is not an address", "苏州的工厂在园区", Address{}, false},
		{"street name as city is not a city", "中山路100号", Address{Street: "中山路", Number: "100号", Full: "中山路100号"}, true},
		{"line number is not an address", "3号线急停按钮失灵", Address{}, false},
		{"nothing", "设备E202308001报警", Address{}, false},
		{"empty", "", Address{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ExtractAddress(tt.text)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

// An address ends with its line: the next line's "3号楼" is another thing said.
func TestAnAddressDoesNotRunOntoTheNextLine(t *testing.T) {
	a, ok := ExtractAddress("苏州工业园区星湖街328号\n3号楼电梯坏了")
	if !ok || a.Full != "苏州工业园区星湖街328号" {
		t.Fatalf("got %+v, %v", a, ok)
	}
	a, ok = ExtractAddress("苏州工业园区星湖街328号 3号楼")
	if !ok || a.Full != "苏州工业园区星湖街328号 3号楼" {
		t.Fatalf("on one line the building is part of it: got %+v, %v", a, ok)
	}
}
