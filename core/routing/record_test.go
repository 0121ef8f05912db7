package routing_test

import (
	"testing"
	"time"

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

func TestRate(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, shanghai)
	suspended := at.Add(routing.RedCardSuspension)
	for _, tc := range []struct {
		name                        string
		lowRatings                  int
		timeliness, professionalism int
		want                        routing.Card
	}{
		{"a good rating with no run keeps none", 0, 5, 5, routing.Card{}},
		{"a good rating ends a run", 1, 4, 2, routing.Card{}},
		{"a 1 on timeliness starts a run", 0, 1, 5, routing.Card{LowRatings: 1}},
		{"a 1 on professionalism starts a run", 0, 5, 1, routing.Card{LowRatings: 1}},
		{"2 is not low", 0, 2, 2, routing.Card{}},
		{"the second 1 in a row is a red card, and the run starts again", 1, 1, 1,
			routing.Card{Red: true, SuspendedUntil: suspended}},
		{"a run already at the cap (a store written with a higher one) is a red card", 3, 1, 1,
			routing.Card{Red: true, SuspendedUntil: suspended}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, routing.Rate(tc.lowRatings, tc.timeliness, tc.professionalism, at))
		})
	}
	assert.Equal(t, 2, routing.RedCardRatings, "DESIGN: two ratings of 1 in a row")
	assert.Equal(t, 24*time.Hour, routing.RedCardSuspension)
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
