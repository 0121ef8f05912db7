package normalize

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSpokenToDigitsHeldOut holds utterances as callers say them. This table was written before
// spoken.go existed and was not changed while the rules were tuned on TestSpokenToDigits, so it
// shows how the rules do on text they were not fitted to.
func TestSpokenToDigitsHeldOut(t *testing.T) {
	tests := []struct {
		text string
		want string
	}{
		{"我家在三单元五零二", "我家在3单元502"},
		{"手机号码是幺三九，幺零零八，六六七七", "手机号码是13910086677"},
		{"二零二四年十二月买的", "2024年12月买的"},
		{"这是第三次打了", "这是第三次打了"},
		{"十万火急啊", "十万火急啊"},
		{"你们能不能快一点，我等了一下午了", "你们能不能快一点，我等了一下午了"},
		{"在五楼，五幺二室", "在5楼，512室"},
		{"电话是 幺五九 零六一二 三四八八", "电话是 15906123488"},
		{"编号是 s n 杠 零三一五 杠 二二零八", "编号是 SN-0315-2208"},
		{"两个师傅都来过，还是不行", "两个师傅都来过，还是不行"},
		{"固件版本是v二点三点一", "固件版本是V2.3.1"},
		{"三号线的二号机", "3号线的2号机"},
		{"一楼大厅", "1楼大厅"},
		{"一共四百二十块", "一共420块"},
		{"下午三点多坏的", "下午三点多坏的"},
		{"两三天了", "两三天了"},
		{"我们这边有二三十台", "我们这边有二三十台"},
		{"地址是星湖街一百二十八号", "地址是星湖街128号"},
		{"机器上写的E二零二三零八零零一", "机器上写的E202308001"},
		{"不一样的问题", "不一样的问题"},
		{"138 零零 1234", "138001234"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			assert.Equal(t, tt.want, SpokenToDigits(tt.text))
		})
	}
}

func TestSpokenToDigits(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string
	}{
		// Digit strings read one by one.
		{"mobile in groups", "一八六 幺二三四 五六七八", "18612345678"},
		{"thirteen digits in one breath", "幺三八零零幺二三四五六七八", "1380012345678"},
		{"twelve digits", "幺三八零零幺二三四五六七", "138001234567"},
		{"commas between groups", "幺三九,幺零零八,六六七七", "13910086677"},
		{"顿号 between groups", "幺三九、幺零零八、六六七七", "13910086677"},
		{"comma and space", "幺三九， 幺零零八， 六六七七", "13910086677"},
		{"ASR mix of ASCII and spoken", "138 零零 1234", "138001234"},
		{"ASCII glued to spoken", "138零零1234", "138001234"},
		{"capitals", "壹叁捌贰肆伍陆柒捌玖零", "13824567890"},
		{"〇 and 洞", "幺洞〇五", "1005"},
		{"landline", "零五幺二 六七八九 幺二三四", "051267891234"},
		{"more than twelve digits keep their groups", "房间五零二，一八六 幺二三四 五六七八", "房间502，186 1234 5678"},
		{"year", "二零二四年", "2024年"},
		{"three numerals", "密码是一二三", "密码是123"},
		{"numerals said one by one", "一 八 六 幺 二 三 四 五 六 七 八", "18612345678"},
		{"400 number", "四零零 八八八 幺二三四", "4008881234"},
		{"extension after a comma", "电话幺三八，幺二三四，五六七八，转八零零二", "电话13812345678，转8002"},
		{"two numerals with 幺", "分机幺五", "分机15"},
		{"两 in a long digit string", "幺三两四五六七", "1324567"},
		{"agent's staff number", "工号幺零二三为您服务", "工号1023为您服务"},
		{"sentence around", "我的电话是一八六幺二三四五六七八，谢谢", "我的电话是18612345678，谢谢"},

		// Quantities.
		{"four hundred and six", "四百零六号", "406号"},
		{"seventy", "七十号", "70号"},
		{"eleven", "十一楼", "11楼"},
		{"twenty-three", "二十三栋", "23栋"},
		{"one thousand and two", "一千零二", "1002"},
		{"one thousand and twenty", "一千零二十", "1020"},
		{"hundred shorthand", "三百五块", "350块"},
		{"ten thousand shorthand", "一万二", "12000"},
		{"两 before 千", "两千块", "2000块"},
		{"两 before 万", "两万", "20000"},
		{"万 with a section", "三万五千", "35000"},
		{"万 with 零", "一万零五百", "10500"},
		{"lone 十 before 号", "十号", "10号"},
		{"lone 十 before 点", "十点到", "10点到"},
		{"month", "十二月三号", "12月3号"},
		{"capital quantity", "壹佰贰拾", "120"},
		{"minutes", "等了三十分钟", "等了30分钟"},
		{"percent", "百分之二十", "百分之20"},

		// One or two numerals as an address number.
		{"first floor", "一楼", "1楼"},
		{"unit", "三单元", "3单元"},
		{"room", "五零二室", "502室"},
		{"workshop", "二车间", "2车间"},
		{"line number", "三号线", "3号线"},
		{"month alone", "三月份", "3月份"},
		{"two with 零 before 室", "零二室", "02室"},

		// Codes.
		{"serial with dashes", "SN零四二七杠零零幺九", "SN0427-0019"},
		{"serial said with every dash", "SN杠零四二七杠零零幺九", "SN-0427-0019"},
		{"serial with letters spelled", "s n 零四二七杠零零幺九", "SN0427-0019"},
		{"serial with spaced capitals", "S N零四二七 杠 零零幺九", "SN0427-0019"},
		{"prefix then a space", "SN 零四二七", "SN0427"},
		{"everything spelled", "编号是 A B 三 四 五 六", "编号是 AB3456"},
		{"a word, a space, a numbered thing", "PLC 三号", "PLC 3号"},
		{"letter and nine digits", "E二零二四幺幺零零八", "E202411008"},
		{"letters in the middle", "SN杠KS二杠零零九三", "SN-KS2-0093"},
		{"横杠", "A幺二横杠三四五", "A12-345"},
		{"减", "一二三减四五六", "123-456"},
		{"version", "版本二点三点一", "版本2.3.1"},
		{"letter and one numeral", "B二栋", "B2栋"},
		{"ASCII dash", "SN-零四二七", "SN-0427"},

		// Not numbers: stay byte for byte.
		{"一下", "您稍等一下", "您稍等一下"},
		{"一些", "有一些问题", "有一些问题"},
		{"一点", "快一点", "快一点"},
		{"一样", "跟上次一样", "跟上次一样"},
		{"一直", "一直报警", "一直报警"},
		{"一起", "一起来看看", "一起来看看"},
		{"一定", "一定要来", "一定要来"},
		{"十分", "十分着急", "十分着急"},
		{"万一", "万一起火了", "万一起火了"},
		{"一般", "一般是传感器", "一般是传感器"},
		{"统一", "统一处理", "统一处理"},
		{"一会儿", "过一会儿再打", "过一会儿再打"},
		{"两个人", "两个人来", "两个人来"},
		{"一个", "有一个按钮", "有一个按钮"},
		{"ordinal", "第三次", "第三次"},
		{"weekday", "星期一", "星期一"},
		{"range", "三四百台", "三四百台"},
		{"range of tens", "七八十岁", "七八十岁"},
		{"two numerals", "七八个", "七八个"},
		{"idiom of numerals", "三三两两", "三三两两"},
		{"idiom 七七八八", "修得七七八八了", "修得七七八八了"},
		{"idiom 一五一十", "一五一十地说", "一五一十地说"},
		{"千万", "千万别动", "千万别动"},
		{"count of buildings", "一栋楼都停电了", "一栋楼都停电了"},
		{"storeys", "三层楼高", "三层楼高"},
		{"两 before 楼", "两楼之间", "两楼之间"},
		{"lone 十", "十全十美", "十全十美"},
		{"hole", "墙上有个洞", "墙上有个洞"},
		{"holes", "洞洞的", "洞洞的"},
		{"time of day", "三点零五分", "三点零五分"},
		{"one 点", "二点三", "二点三"},
		{"三减二", "三减二", "三减二"},
		{"quantity glued to ASCII digits", "3十", "3十"},
		// 三百五 runs on into 一个: the run does not read as one number, so all of it stays.
		{"quantity running into 一个", "三百五一个月", "三百五一个月"},
		{"two spaced single digits stay", "一 八", "一 八"},
		{"single digit then a count", "一 八 六 一个", "186 一个"},
		{"no numerals", "SN-0427-0019 138 1234 5678", "SN-0427-0019 138 1234 5678"},
		{"newline is not a separator", "一八六\n幺二三四", "186\n1234"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, SpokenToDigits(tt.text))
		})
	}
}

// The hotline connector's chain: SpokenToDigits on what the customer said, then the extractors
// every connector uses, then SpokenSource to say which words the value came from.
func TestSpokenThenExtractors(t *testing.T) {
	t.Run("phone", func(t *testing.T) {
		said := "我的电话是一八六 幺二三四 五六七八"
		out, spans := Spoken(said)
		phones := ExtractPhones(out)
		require.Len(t, phones, 1)
		assert.Equal(t, "18612345678", phones[0].Value)
		start, end := SpokenSource(spans, phones[0].Start, phones[0].End)
		assert.Equal(t, "一八六 幺二三四 五六七八", said[start:end])
	})
	t.Run("serial", func(t *testing.T) {
		said := "机器编号SN零四二七杠零零幺九"
		// As said, there is no dash after SN: the extractor finds the serial with a pattern
		// that allows for that ...
		patterns, err := CompileDevicePatterns([]string{`SN-?\d{4}-\d{4}`})
		require.NoError(t, err)
		ids := ExtractDeviceIDs(SpokenToDigits(said), patterns)
		require.Len(t, ids, 1)
		assert.Equal(t, "SN0427-0019", ids[0].Value)
		// ... and finds SN-0427-0019 when the caller says every dash.
		ids = ExtractDeviceIDs(SpokenToDigits("机器编号SN杠零四二七杠零零幺九"), patterns)
		require.Len(t, ids, 1)
		assert.Equal(t, "SN-0427-0019", ids[0].Value)
	})
	t.Run("address", func(t *testing.T) {
		a, ok := ExtractAddress(SpokenToDigits("地址是科技路四百零六号十一楼"))
		require.True(t, ok)
		assert.Equal(t, "406号", a.Number)
		assert.Equal(t, "科技路406号11楼", a.Full)
	})
}

func TestSpokenDeviceIDs(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		said     string
		want     []Match
	}{
		{"nameplate with a dash after SN", []string{`SN-\d{4}-\d{4}`}, "机器编号SN零四二七杠零零幺九",
			[]Match{{Value: "SN-0427-0019", Text: "SN零四二七杠零零幺九", Start: 12, End: 41}}},
		{"the house pattern", []string{`SN-[A-Z0-9]+(?:-[A-Z0-9]+)+`}, "编号是s n零四二七杠零零幺九，谢谢",
			[]Match{{Value: "SN-0427-0019", Text: "s n零四二七杠零零幺九", Start: 9, End: 39}}},
		{"nameplate without a dash after SN", []string{`SN\d{4}-\d{4}`}, "机器编号SN零四二七杠零零幺九",
			[]Match{{Value: "SN0427-0019", Text: "SN零四二七杠零零幺九", Start: 12, End: 41}}},
		{"capture group", []string{`SN[:：]?\s*([A-Z0-9]{8,16})`}, "编号SN 二零二四零八零零幺",
			[]Match{{Value: "202408001", Text: "SN 二零二四零八零零幺", Start: 6, End: 36}}},
		{"written serial", []string{`E\d{9}`}, "设备E202308001报警，电话一八六幺二三四五六七八",
			[]Match{{Value: "E202308001", Text: "E202308001", Start: 6, End: 16}}},
		{"spoken letter and digits", []string{`E\d{9}`}, "是E二零二四幺幺零零八",
			[]Match{{Value: "E202411008", Text: "E二零二四幺幺零零八", Start: 3, End: 31}}},
		{"a dash makes no other id", []string{`E-\d{3}`}, "E二零二四幺幺零零八", nil},
		{"none", []string{`SN-\d{4}-\d{4}`}, "一楼的灯坏了", nil},
		{"a code glued to more letters is no id", []string{`SN-\d{4}`}, "XSN零四二七", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			patterns, err := CompileDevicePatterns(tt.patterns)
			require.NoError(t, err)
			got := SpokenDeviceIDs(tt.said, patterns)
			if tt.want == nil {
				assert.Empty(t, got)
				return
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// Patterns for a dash not said run on the code and some context around it: offsets must come
// out the same far into a transcript.
func TestSpokenDeviceIDsFarIntoText(t *testing.T) {
	patterns, err := CompileDevicePatterns([]string{`SN-\d{4}-\d{4}`})
	require.NoError(t, err)
	said := strings.Repeat("您好，请问有什么可以帮您？", 10) + "编号SN零四二七杠零零幺九，还有SN零四二八杠零零二零"
	got := SpokenDeviceIDs(said, patterns)
	require.Len(t, got, 2)
	for i, want := range []struct{ value, text string }{
		{"SN-0427-0019", "SN零四二七杠零零幺九"}, {"SN-0428-0020", "SN零四二八杠零零二零"},
	} {
		assert.Equal(t, want.value, got[i].Value)
		assert.Equal(t, want.text, got[i].Text)
		checkMatch(t, said, got[i])
	}
}

func TestSpokenSpans(t *testing.T) {
	said := "电话一八六 幺二三四 五六七八，住三单元"
	out, spans := Spoken(said)
	assert.Equal(t, "电话18612345678，住3单元", out)
	assert.Equal(t, []SpokenSpan{
		{Start: 6, End: 41, OutStart: 6, OutEnd: 17, Text: "一八六 幺二三四 五六七八", Value: "18612345678"},
		{Start: 47, End: 50, OutStart: 23, OutEnd: 24, Text: "三", Value: "3"},
	}, spans)

	unchanged := "您好，请问有什么可以帮您"
	same, none := Spoken(unchanged)
	assert.Equal(t, unchanged, same)
	assert.Nil(t, none)

	// SpokenSource: text before, between and after spans shifts; a bound inside a span moves
	// to its edge.
	for _, tc := range []struct{ outStart, outEnd, start, end int }{
		{0, 6, 0, 6},     // 电话
		{6, 17, 6, 41},   // the phone
		{8, 10, 6, 41},   // inside the phone
		{17, 20, 41, 44}, // ，
		{20, 24, 44, 50}, // 住3
		{24, 30, 50, 56}, // 单元
		{6, 6, 6, 6},     // empty, at the phone's start
		{17, 17, 41, 41}, // empty, at its end
	} {
		start, end := SpokenSource(spans, tc.outStart, tc.outEnd)
		assert.Equal(t, [2]int{tc.start, tc.end}, [2]int{start, end}, "output [%d, %d)", tc.outStart, tc.outEnd)
	}
}

func TestParseQuantity(t *testing.T) {
	tests := []struct {
		said string
		want uint64
		ok   bool
	}{
		{"十", 10, true}, {"十五", 15, true}, {"二十", 20, true}, {"二十三", 23, true},
		{"一百", 100, true}, {"一百一十", 110, true}, {"一百一", 110, true}, {"四百零六", 406, true},
		{"一千零二", 1002, true}, {"一千零十", 1010, true}, {"一千二百三十四", 1234, true},
		{"两千", 2000, true}, {"两百五", 250, true}, {"一万", 10000, true}, {"十万", 100000, true},
		{"一万二", 12000, true}, {"一万两千", 12000, true}, {"三十五万", 350000, true},
		{"一万零五", 10005, true}, {"一百零五万", 1050000, true}, {"九千九百九十九万九千九百九十九", 99999999, true},
		{"二三十", 0, false}, {"三四百", 0, false}, {"九九八十一", 0, false}, {"一五一十", 0, false},
		{"十十", 0, false}, {"百", 0, false}, {"千万", 0, false}, {"万", 0, false}, {"一万万", 0, false},
		{"两十", 0, false}, {"二十两", 0, false}, {"一百零", 0, false}, {"二十零六", 0, false},
		{"一千零零二", 0, false}, {"一百十", 0, false}, {"一千五十", 0, false}, {"一万五百", 0, false},
		{"幺百", 0, false}, {"洞十", 0, false}, {"一万两", 0, false}, {"零十", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.said, func(t *testing.T) {
			got, ok := parseQuantity([]rune(tt.said))
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

// spokenTranscript is a ten-minute call as the hotline connector sees it: about 120 turns,
// agent and customer by turns, numbers said the ways callers say them.
func spokenTranscript() []string {
	agent := []string{
		"您好，工号幺零二三为您服务，请问有什么可以帮您？",
		"好的，您稍等一下，我帮您查一下。",
		"请问您的联系电话是多少？",
		"麻烦您再说一下设备铭牌上的编号。",
		"好的，地址是哪里呢？",
		"我这边给您登记一下，工程师一般两个小时内联系您。",
		"还有其他问题吗？",
		"好的，感谢您的来电，再见。",
	}
	customer := []string{
		"你好，我们厂里的空压机一直报警，停了好几次了。",
		"我的电话是一八六 幺二三四 五六七八。",
		"编号是SN零四二七杠零零幺九，在机器侧面。",
		"地址是苏州工业园区星湖街三百二十八号，三号楼二车间。",
		"对，上午十点多开始的，已经是第三次打了。",
		"嗯，就是那个压力一直上不去，有一点漏气的声音。",
		"好的好的，你们快一点，十万火急。",
		"没有了，谢谢。",
	}
	var turns []string
	for i := 0; len(turns) < 120; i++ {
		turns = append(turns, agent[i%len(agent)], customer[i%len(customer)])
	}
	return turns
}

// BenchmarkSpokenToDigits reports the cost per transcript of about 120 turns, each turn
// rewritten as the connector does. docs/BENCHMARKS.md has the figures.
func BenchmarkSpokenToDigits(b *testing.B) {
	turns := spokenTranscript()
	size := 0
	for _, t := range turns {
		size += len(t)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		for _, t := range turns {
			SpokenToDigits(t)
		}
	}
}

// BenchmarkSpokenToDigitsWhole is the same transcript as one text.
func BenchmarkSpokenToDigitsWhole(b *testing.B) {
	text := strings.Join(spokenTranscript(), "\n")
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		SpokenToDigits(text)
	}
}

func ExampleSpoken() {
	out, spans := Spoken("电话是一八六 幺二三四 五六七八，地址是科技路四百零六号")
	fmt.Println(out)
	for _, sp := range spans {
		fmt.Printf("%s → %s\n", sp.Text, sp.Value)
	}
	// Output:
	// 电话是18612345678，地址是科技路406号
	// 一八六 幺二三四 五六七八 → 18612345678
	// 四百零六 → 406
}
