package knowledge

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"gongdan/draft"
)

// benchVocabulary are words of fault reports, as articles' keywords and a caller's text use
// them.
var benchVocabulary = strings.Fields(`指纹 没反应 识别不了 电池 没电 低电量 门锁 密码 钥匙 反锁 锁舌 面板 黑屏 死机 重启 复位
急停 急停回路 安全继电器 启动不了 过热 超温 温度过高 冷却器 风扇 异响 振动 漏水 渗水 滴水 漏油 跳闸 断电 短路 空开
电梯 困人 平层 轿厢 空调 不制冷 不制热 冷机 压缩机 变频器 伺服报警 PLC HMI 触摸屏 传感器 探头 读数异常 编码器
液压 油压低 油缸 气压不足 漏气 电磁阀 网络 断网 交换机 路由器 掉线 离线 通讯中断 报警代码 故障代码 E01 E02 reset
firmware 升级 固件 远程 上门 备件 更换 清洗 滤网 皮带 轴承 润滑 噪音大 烧焦味 冒烟`)

var benchCategories = []string{"急停故障", "设备过热", "设备离线", "漏水", "漏油", "电气故障", "空调故障", "电梯故障",
	"网络故障", "传感器故障", "液压故障", "异响振动", "气动故障", "控制系统故障", "门锁故障"}

// benchArticles makes n articles like a service team's: a category or two, five to eight
// keywords, a third for named models, one in ten with a firmware range.
func benchArticles(tb testing.TB, n int) []Article {
	rng := rand.New(rand.NewPCG(20, 26))
	out := make([]Article, n)
	for i := range out {
		var fm strings.Builder
		fmt.Fprintf(&fm, "title: 文章 %d\ncategories: [%s]\nkeywords: [", i, benchCategories[rng.IntN(len(benchCategories))])
		for k := range 5 + rng.IntN(4) {
			if k > 0 {
				fm.WriteString(", ")
			}
			fmt.Fprintf(&fm, "%s", benchVocabulary[rng.IntN(len(benchVocabulary))])
		}
		fm.WriteString("]\n")
		if i%3 == 0 || i%10 == 0 {
			fmt.Fprintf(&fm, "models: [TL-X%d, GA%dVSD+]\n", i%10, 20+i%30)
		}
		if i%10 == 0 {
			fmt.Fprintf(&fm, "firmware: \">=2.%d.0 <2.%d.2\"\n", i%5, i%5)
		}
		out[i] = article(tb, fmt.Sprintf("a%03d", i), fm.String())
	}
	return out
}

// benchText is about 3 KB of what a caller says in a ten-minute call about a lock.
func benchText() string {
	sentences := []string{
		"喂你好，我家的指纹锁从今天早上开始就不太对劲，手指放上去没反应。",
		"密码还是可以开的，但是老人记不住密码，平时都是用指纹。",
		"上周刚换过电池，电量应该是够的，面板也会亮。",
		"型号我看一下，门里面贴着的标签写的是 TL-X9，序列号 E202405017。",
		"之前你们师傅来过一次，说是固件的问题，后来好了几天又这样了。",
		"能不能尽快安排人来看一下，我们下午都不在家，钥匙放在物业。",
	}
	var b strings.Builder
	for b.Len() < 3000 {
		for _, s := range sentences {
			b.WriteString(s)
		}
	}
	return b.String()
}

// BenchmarkSuggest: one draft — a ten-minute call's customer text, ~3 KB — against 500
// articles, as the pipeline matches every draft. The budget is well under 100 µs a draft on
// one core.
func BenchmarkSuggest(b *testing.B) {
	base := base(b, benchArticles(b, 500)...)
	d := draft.Draft{Title: "指纹锁没反应", Description: benchText(), Category: "门锁故障",
		Device: draft.Device{ID: "E202405017", Model: "TL-X0", Firmware: "2.0.1"}}
	b.SetBytes(int64(len(d.Title) + len(d.Description)))
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n += len(base.Suggest(d))
	}
	if n == 0 {
		b.Fatal("nothing suggested: the benchmark measures nothing real")
	}
}

// BenchmarkSuggestLargeBase: 2,000 articles of 8 keywords each, drawn from 3,000 common
// Chinese characters (16,000 distinct terms), against the same ~3 KB text: a large base must
// not make every draft scan word by word (keyed by two bytes, a character's bucket held 64
// characters' terms; a review measured 325 µs for a 1,000-character text).
//
//	go test ./knowledge/ -run '^$' -bench SuggestLargeBase -cpu 1
func BenchmarkSuggestLargeBase(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 11))
	common := []rune{}
	for r := rune(0x4E00); len(common) < 3000; r += 7 {
		common = append(common, r)
	}
	word := func() string {
		w := make([]rune, 2+rng.IntN(3))
		for i := range w {
			w[i] = common[rng.IntN(len(common))]
		}
		return string(w)
	}
	arts := make([]Article, 2000)
	for i := range arts {
		kws := make([]string, 8)
		for k := range kws {
			kws[k] = word()
		}
		arts[i] = article(b, fmt.Sprintf("b%04d", i), fmt.Sprintf("title: 文章 %d\ncategories: [%s]\nkeywords: [%s]\n",
			i, benchCategories[i%len(benchCategories)], strings.Join(kws, ", ")))
	}
	base := base(b, arts...)
	d := draft.Draft{Title: "指纹锁没反应", Description: benchText(), Category: "门锁故障"}
	b.SetBytes(int64(len(d.Title) + len(d.Description)))
	b.ReportAllocs()
	for b.Loop() {
		base.Suggest(d)
	}
}
