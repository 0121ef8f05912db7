package routing_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"gongdan/core/routing"
)

func TestFTFR(t *testing.T) {
	for _, tc := range []struct {
		name                      string
		fixed, firstTime, repeats int
		want                      float64
		known                     bool
	}{
		{"no history", 0, 0, 0, 0, false},
		{"one short of the minimum", routing.FTFRMinimum - 1, routing.FTFRMinimum - 1, 0, 0, false},
		{"at the minimum, all first time", 5, 5, 0, 1, true},
		{"reworks lower it", 10, 7, 0, 0.7, true},
		{"a repeat within 7 days undoes a first-time fix", 10, 7, 2, 0.5, true},
		{"more repeats than first-time fixes is 0, not negative", 5, 1, 3, 0, true},
		{"none first time", 8, 0, 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, known := routing.FTFR(tc.fixed, tc.firstTime, tc.repeats)
			assert.Equal(t, tc.known, known)
			assert.InDelta(t, tc.want, got, 1e-9)
		})
	}
}

func TestMoveLoad(t *testing.T) {
	for _, tc := range []struct {
		name            string
		before, after   routing.Holding
		released, taken string
	}{
		{"created unassigned", routing.Holding{}, routing.Holding{Open: true}, "", ""},
		{"assigned", routing.Holding{Open: true}, routing.Holding{Engineer: "li", Open: true}, "", "li"},
		{"reassigned", routing.Holding{Engineer: "li", Open: true}, routing.Holding{Engineer: "wang", Open: true}, "li", "wang"},
		{"worked on: the same engineer both ways", routing.Holding{Engineer: "li", Open: true}, routing.Holding{Engineer: "li", Open: true}, "li", "li"},
		{"closed", routing.Holding{Engineer: "li", Open: true}, routing.Holding{Engineer: "li"}, "li", ""},
		{"reopened", routing.Holding{Engineer: "li"}, routing.Holding{Engineer: "li", Open: true}, "", "li"},
		{"an event on a closed ticket", routing.Holding{Engineer: "li"}, routing.Holding{Engineer: "li"}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			released, taken := routing.MoveLoad(tc.before, tc.after)
			assert.Equal(t, tc.released, released, "released")
			assert.Equal(t, tc.taken, taken, "taken")
		})
	}
}
