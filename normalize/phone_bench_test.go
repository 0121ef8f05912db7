package normalize

import (
	"strings"
	"testing"
)

// BenchmarkExtractPhonesInACall is the phone search over what a customer says in a ten-minute
// call (3 KB of Chinese with digits here and there): the anchored patterns run at each digit.
//
//	go test -run '^$' -bench ExtractPhonesInACall -cpu 1 -count 5 ./normalize/
func BenchmarkExtractPhonesInACall(b *testing.B) {
	text := strings.Repeat("喂你好，我们小区3号楼2单元的电梯困人了，一共2个人，已经10分钟了，我的电话是18612345678，地址是工业园区星湖街328号。", 20)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if len(ExtractPhones(text)) != 20 {
			b.Fatal("20 numbers")
		}
	}
}
