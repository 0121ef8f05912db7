package routing_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"gongdan/core/routing"
)

// step is one event in a sequence of cards: a rating (timeliness, professionalism, disputed)
// or a charge (repeat, sla_red), days after the start.
type step struct {
	day     float64
	t, p    int
	dispute bool
	charge  routing.CardCause
}

func rating(day float64, t, p int) step { return step{day: day, t: t, p: p} }
func charge(day float64, c routing.CardCause) step {
	return step{day: day, charge: c}
}

// cardsOf runs steps under rules from an empty record and returns every card given, as
// "kind/cause@day", and the end of the last suspension.
func cardsOf(t *testing.T, rules routing.CardRules, steps ...step) ([]string, time.Time) {
	start := time.Date(2026, 11, 1, 9, 0, 0, 0, shanghai)
	var rec routing.CardRecord
	var got []string
	var until time.Time
	for _, s := range steps {
		at := start.Add(time.Duration(s.day * float64(24*time.Hour)))
		var v routing.Verdict
		if s.charge != "" {
			v = rules.Charged(rec, s.charge, at)
		} else {
			v = rules.Rated(rec, s.t, s.p, s.dispute, at)
		}
		for _, c := range v.Cards {
			got = append(got, string(c.Kind)+"/"+string(c.Cause)+"@"+formatDay(c.At.Sub(start)))
			if c.Kind == routing.CardYellow {
				assert.Equal(t, c.At.Add(rules.YellowTTL), c.ExpiresAt, "a yellow card expires yellow_ttl after it was given")
			} else {
				assert.Equal(t, v.SuspendedUntil, c.ExpiresAt, "a red card expires with its suspension")
			}
		}
		if !v.SuspendedUntil.IsZero() {
			until = v.SuspendedUntil
		}
		rec = v.Record
	}
	return got, until
}

func formatDay(d time.Duration) string { return d.Truncate(time.Hour).String() }

func TestCards(t *testing.T) {
	on := routing.YellowDefaults
	off := func(f func(*routing.CardRules)) routing.CardRules {
		r := on
		f(&r)
		return r
	}
	disputed := func(day float64, t, p int) step { return step{day: day, t: t, p: p, dispute: true} }
	for _, tc := range []struct {
		name  string
		rules routing.CardRules
		steps []step
		want  []string
	}{
		// Yellow.
		{"a 2 on either question is a yellow card", on, []step{rating(0, 5, 2)}, []string{"yellow/rating@0s"}},
		{"a 3 is not", on, []step{rating(0, 3, 3)}, nil},
		{"a dispute is a yellow card, even with good ratings", on, []step{disputed(0, 5, 5)}, []string{"yellow/dispute@0s"}},
		{"a disputed low rating is one yellow card, not two", on, []step{disputed(0, 2, 2)}, []string{"yellow/dispute@0s"}},
		{"a repeat is a yellow card", on, []step{charge(0, routing.CauseRepeat)}, []string{"yellow/repeat@0s"}},
		{"an SLA red tier is a yellow card", on, []step{charge(0, routing.CauseSLARed)}, []string{"yellow/sla_red@0s"}},

		// Red.
		{"two yellows within 30 days are a red card", on, []step{rating(0, 2, 5), charge(29, routing.CauseRepeat)},
			[]string{"yellow/rating@0s", "yellow/repeat@696h0m0s", "red/yellows@696h0m0s"}},
		{"two ratings of 1 in a row are a red card", on, []step{rating(0, 1, 5), rating(1, 5, 1)},
			[]string{"yellow/rating@0s", "yellow/rating@24h0m0s", "red/low_ratings@24h0m0s"}},
		{"without yellows, two ratings of 1 in a row still are (the default rules)", routing.DefaultCardRules,
			[]step{rating(0, 1, 1), rating(1, 1, 1)}, []string{"red/low_ratings@24h0m0s"}},
		{"the default rules give no yellow", routing.DefaultCardRules,
			[]step{rating(0, 2, 2), disputed(1, 5, 5), charge(2, routing.CauseRepeat), charge(3, routing.CauseSLARed)}, nil},
		{"a good rating breaks a run of ones", routing.DefaultCardRules, []step{rating(0, 1, 1), rating(1, 4, 4), rating(2, 1, 1)}, nil},
		{"a red card starts the count afresh", on, []step{rating(0, 2, 2), rating(1, 2, 2), rating(2, 2, 2)},
			[]string{"yellow/rating@0s", "yellow/rating@24h0m0s", "red/yellows@24h0m0s", "yellow/rating@48h0m0s"}},

		// Expiry.
		{"a yellow older than the window does not make a red", on, []step{rating(0, 2, 2), rating(30.5, 2, 2)},
			[]string{"yellow/rating@0s", "yellow/rating@732h0m0s"}},
		{"an expired yellow does not count, however wide the window", off(func(r *routing.CardRules) {
			r.YellowTTL, r.RedWithin = 7*24*time.Hour, 90*24*time.Hour
		}), []step{rating(0, 2, 2), rating(8, 2, 2)}, []string{"yellow/rating@0s", "yellow/rating@192h0m0s"}},

		// Switches.
		{"rating off", off(func(r *routing.CardRules) { r.Rating = false }), []step{rating(0, 2, 2), rating(1, 2, 2)}, nil},
		{"rating off still counts ones", off(func(r *routing.CardRules) { r.Rating = false }), []step{rating(0, 1, 1), rating(1, 1, 1)},
			[]string{"red/low_ratings@24h0m0s"}},
		{"dispute off: the rating decides", off(func(r *routing.CardRules) { r.Dispute = false }), []step{disputed(0, 5, 5), disputed(1, 2, 2)},
			[]string{"yellow/rating@24h0m0s"}},
		{"repeat off", off(func(r *routing.CardRules) { r.Repeat = false }), []step{charge(0, routing.CauseRepeat)}, nil},
		{"sla_red off", off(func(r *routing.CardRules) { r.SLARed = false }), []step{charge(0, routing.CauseSLARed)}, nil},
		{"red by yellows off", off(func(r *routing.CardRules) { r.RedAfterYellows = 0 }), []step{rating(0, 2, 2), rating(1, 2, 2)},
			[]string{"yellow/rating@0s", "yellow/rating@24h0m0s"}},
		{"red by ones off", off(func(r *routing.CardRules) { r.RedAfterOnes, r.RedAfterYellows = 0, 0 }), []step{rating(0, 1, 1), rating(1, 1, 1)},
			[]string{"yellow/rating@0s", "yellow/rating@24h0m0s"}},
		{"three yellows for a red", off(func(r *routing.CardRules) { r.RedAfterYellows = 3 }), []step{rating(0, 2, 2), rating(1, 2, 2), rating(2, 2, 2)},
			[]string{"yellow/rating@0s", "yellow/rating@24h0m0s", "yellow/rating@48h0m0s", "red/yellows@48h0m0s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := cardsOf(t, tc.rules, tc.steps...)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestARedCardSuspendsForSuspend(t *testing.T) {
	rules := routing.YellowDefaults
	rules.Suspend = 48 * time.Hour
	_, until := cardsOf(t, rules, rating(0, 2, 2), rating(1, 2, 2))
	assert.Equal(t, time.Date(2026, 11, 4, 9, 0, 0, 0, shanghai), until.In(shanghai))
	assert.Equal(t, 2, routing.RedCardRatings, "DESIGN: two ratings of 1 in a row")
	assert.Equal(t, 24*time.Hour, routing.RedCardSuspension)
}

// A red-carded engineer is passed over while suspended, and the trace says why; at the end
// of the suspension they are taken again.
func TestRoutingSkipsARedCardedEngineerUntilTheSuspensionEnds(t *testing.T) {
	r := newRouter(t, routing.Config{
		Engineers: []routing.Engineer{engineer("eng-li", parkSite, "plc"), engineer("eng-zhao", near1km, "plc")},
		Teams:     []routing.Team{{ID: "suzhou-a", Lead: "sup-wang", Members: []string{"eng-li", "eng-zhao"}}},
		Rules:     []routing.Rule{{ID: "estop", RouteTo: routing.Target{Team: "suzhou-a"}}},
	})
	until := tuesday10.Add(24 * time.Hour)
	live := map[string]routing.Live{"eng-li": {SuspendedUntil: until}}
	d := r.Decide(routing.Request{Ticket: ticketAt(parkSite, "急停故障"), Now: tuesday10, Live: live})
	assert.Equal(t, "eng-zhao", d.Engineer, "eng-li is nearer, and suspended")
	li := candidate(t, d, "suzhou-a", "eng-li")
	assert.False(t, li.Passed(routing.FilterNotSuspended))
	assert.Contains(t, string(d.AppendJSON(nil, nil)), `"suspended":"red card until `+until.UTC().Format(time.RFC3339)+`"`)

	d = r.Decide(routing.Request{Ticket: ticketAt(parkSite, "急停故障"), Now: until, Live: live})
	assert.Equal(t, "eng-li", d.Engineer, "the suspension is over")
	assert.NotContains(t, string(d.AppendJSON(nil, nil)), `"suspended"`)
}
