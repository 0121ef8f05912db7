package hotline

import (
	"fmt"
	"testing"
)

// tenMinuteCall is a ten-minute two-speaker call of 120 turns as Aliyun returns it: the
// elevator call's twelve turns, ten times over.
func tenMinuteCall(b *testing.B) []byte {
	var call []line
	for range 10 {
		call = append(call, elevatorCall...)
	}
	return aliyunCall(b, call, 0)
}

// BenchmarkNormalizeCall is the whole of a call's normalization, as the pipeline runs it: the
// body decoded, roles decided, numbers read, the extractors on the customer's words, the
// draft checked. Target (issue 20): 2,000 transcripts a second on one core.
//
//	go test -run '^$' -bench NormalizeCall -cpu 1 -count 6 ./connectors/hotline/
func BenchmarkNormalizeCall(b *testing.B) {
	body := tenMinuteCall(b)
	for _, c := range []struct {
		name string
		o    func(callOptions) callOptions
	}{
		{"agent_channel", func(o callOptions) callOptions { return withChannel(o, 0) }},
		{"cues", func(o callOptions) callOptions { return o }},
	} {
		b.Run(c.name, func(b *testing.B) {
			o := c.o(testOptions(b))
			h := &Hotline{format: FormatAuto, opts: o}
			n := h.Normalizer()
			env := envelopeOf(body, "application/json")
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				ds, err := n.Normalize(env)
				if err != nil || len(ds) != 1 || len(ds[0].Turns) != 120 {
					b.Fatal(err, fmt.Sprint(len(ds)))
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
		})
	}
}
