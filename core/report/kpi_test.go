package report

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/ticket"
)

// TestGiniByHand: the coefficient against examples worked out by hand with the definition
// G = Σᵢ Σⱼ |xᵢ − xⱼ| / (2 n² x̄).
func TestGiniByHand(t *testing.T) {
	for _, c := range []struct {
		name string
		xs   []float64
		want float64
	}{
		{"none", nil, 0},
		{"all zero", []float64{0, 0, 0}, 0},
		{"even", []float64{5, 5, 5, 5}, 0},
		// pairs: |1−3|·2 = 4; n = 2, mean 2: 4 / (2·4·2) = 0.25
		{"1 and 3", []float64{1, 3}, 0.25},
		// everything on one of four: Σ|d| = 2·3·8 = 48; 48 / (2·16·2) = 0.75 = (n−1)/n
		{"all on one of four", []float64{0, 0, 0, 8}, 0.75},
		// 1,2,3,4: Σ|d| over ordered pairs = 2·(1+2+3+1+2+1) = 20; mean 2.5: 20 / (2·16·2.5) = 0.25
		{"1 to 4", []float64{4, 1, 3, 2}, 0.25},
		// 10, 0, 5: Σ|d| = 2·(10+5+5) = 40; mean 5: 40 / (2·9·5) = 4/9
		{"10 0 5", []float64{10, 0, 5}, 4.0 / 9},
	} {
		assert.InDelta(t, c.want, Gini(c.xs), 1e-12, c.name)
	}
}

func TestMedianAndPercentile(t *testing.T) {
	assert.Equal(t, 0.0, Median(nil))
	assert.Equal(t, 3.0, Median([]int64{1, 3, 7}))
	assert.Equal(t, 5.0, Median([]int64{1, 3, 7, 100}))
	// Nearest rank: the 90th percentile of 1..10 is 9, of 1..11 is ⌈9.9⌉ = the 10th, 10.
	xs := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	assert.Equal(t, 9.0, Percentile(xs, 0.9))
	assert.Equal(t, 10.0, Percentile(append(xs, 11), 0.9))
	assert.Equal(t, 42.0, Percentile([]int64{42}, 0.9))
}

func TestCheckBy(t *testing.T) {
	for _, by := range append([]string{""}, Dimensions...) {
		assert.NoError(t, CheckBy(by), by)
	}
	assert.ErrorContains(t, CheckBy("customer"), "one of: team, engineer")
}

func TestPackedFactsRoundTrip(t *testing.T) {
	f := Facts{TicketID: "GD-20261101-000001", CreatedAt: 1793462400, Team: "suzhou-a", Engineer: "eng-li", Category: "急停故障",
		Connector: "hooks", Policy: "orange", RepeatOf: "GD-20261030-000007", FirstAcceptAt: 1793462400 + 600,
		FirstClosedAt: 1793462400 + 86400, ResolvedAt: 1793462400 + 7200, ForceClosed: true, ClosedConfirm: ConfirmAuto,
		Reopens: 2, Disputes: 1, FirstReopenAfterClose: 1793462400 + 2*86400, RepeatedAt: 1793462400 + 3*86400,
		ResponseBreached: true, Confirm: ConfirmCustomer, RootCause: "接线松动"}
	d := NewDecoder()
	var got Facts
	require.NoError(t, d.Facts(AppendFacts(nil, &f), &got))
	assert.Equal(t, RepeatOfSome, got.RepeatOf)
	assert.Empty(t, got.TicketID)
	assert.Empty(t, got.RootCause)
	got.TicketID, got.RootCause, got.RepeatOf = f.TicketID, f.RootCause, f.RepeatOf // kept beside
	assert.Equal(t, f, got)

	r := Rating{Seq: 9, TicketID: f.TicketID, At: 1793462400 + 9000, Team: "wuxi", Engineer: "eng-w1", Category: "设备过热",
		Connector: "gzh", Policy: "orange", Solved: true, Timeliness: 2, Professionalism: 5, RootCause: "固件缺陷"}
	gotR := Rating{Seq: 9, TicketID: f.TicketID}
	require.NoError(t, d.Rating(AppendRating(nil, &r), &gotR))
	assert.Equal(t, r, gotR)

	assert.ErrorIs(t, d.Facts(nil, &got), ErrCorrupt)
	assert.ErrorIs(t, d.Facts(AppendFacts(nil, &f)[:20], &got), ErrCorrupt)
}

// TestStepFollowsAConfirmation: what a survey answer rates and who it counts for, a dispute
// and the confirmation standing at the first close.
func TestStepFollowsAConfirmation(t *testing.T) {
	at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	yes, no := true, false
	raw := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
	cust := ticket.Actor{ID: "c1", Role: ticket.RoleCustomer}
	t0 := ticket.Ticket{ID: "T1", Team: "suzhou-a", Assignee: "eng-li", Category: "急停故障"}
	f := Facts{TicketID: "T1", CreatedAt: at.Unix()}
	var r *Rating
	var err error
	step := func(ev ticket.Event, tk ticket.Ticket) {
		t.Helper()
		ev.TicketID = "T1"
		f, r, err = Step(f, ev, tk, "orange")
		require.NoError(t, err)
	}
	step(ticket.Event{Action: ticket.ActionResolve, At: at, From: ticket.StateInProgress, To: ticket.StateResolved,
		Data: raw(ticket.ResolveData{RootCause: "接线松动"})}, t0)
	assert.Equal(t, at.Unix(), f.EndedAt, "resolved: no longer open")
	disputed := t0
	disputed.Feedback = &ticket.Feedback{Engineer: "eng-li"}
	step(ticket.Event{Action: ticket.ActionConfirm, Actor: cust, At: at.Add(time.Hour), From: ticket.StateResolved, To: ticket.StateInProgress,
		Data: raw(ticket.ConfirmData{Solved: &no, Timeliness: 1, Professionalism: 2})}, disputed)
	require.NotNil(t, r)
	assert.Equal(t, Rating{TicketID: "T1", At: at.Add(time.Hour).Unix(), Team: "suzhou-a", Engineer: "eng-li", Category: "急停故障",
		Policy: "orange", Timeliness: 1, Professionalism: 2, RootCause: "接线松动"}, *r)
	assert.True(t, r.Low())
	assert.Equal(t, 1, f.Disputes)
	assert.Zero(t, f.EndedAt, "back to work: open again")

	auto := ticket.Event{Action: ticket.ActionConfirm, Actor: ticket.SystemActor, At: at.Add(80 * time.Hour), From: ticket.StateResolved,
		To: ticket.StateCustomerConfirmed, Data: raw(ticket.ConfirmData{Solved: &yes, Auto: true})}
	step(auto, t0)
	assert.Nil(t, r, "an auto-confirm is no survey answer")
	step(ticket.Event{Action: ticket.ActionClose, At: at.Add(81 * time.Hour), From: ticket.StateCustomerConfirmed, To: ticket.StateClosed}, t0)
	assert.Equal(t, ConfirmAuto, f.ClosedConfirm)
	assert.Equal(t, at.Add(81*time.Hour).Unix(), f.FirstClosedAt)
	assert.False(t, f.ForceClosed)
}

// TestAccumulatorWindow: a ticket counts in the figures whose time falls in the window, and
// the backlog trend's points are whole days back from the end.
func TestAccumulatorWindow(t *testing.T) {
	const day = 86400
	w := Window{From: 10 * day, Until: 12 * day}
	a := NewAccumulator(w, "", nil, time.UTC)
	assert.Equal(t, int64(10*day), a.Earliest())
	a.AddFacts(&Facts{CreatedAt: 9 * day, FirstAcceptAt: 9*day + 60, FirstClosedAt: 10*day + 5, ResolvedAt: 10 * day, EndedAt: 10 * day, ClosedConfirm: ConfirmCustomer})
	a.AddFacts(&Facts{CreatedAt: 11 * day, FirstAcceptAt: 11*day + 120})
	a.AddFacts(&Facts{CreatedAt: 12*day + 1}) // after the window
	rep := a.Report()
	assert.Equal(t, 1, rep.FirstResponse.Count)
	assert.Equal(t, 120.0, rep.FirstResponse.Median)
	assert.Equal(t, Rate{Count: 1, Of: 1, Rate: rep.TrueClosureRate.Rate}, rep.TrueClosureRate)
	assert.Equal(t, 1.0, *rep.TrueClosureRate.Rate)
	assert.Equal(t, 1, rep.Backlog.Open)
	assert.Equal(t, []int{0, 1, 1}, []int{rep.Backlog.Trend[0].Open, rep.Backlog.Trend[1].Open, rep.Backlog.Trend[2].Open})
	assert.Equal(t, Rate{Count: 0, Of: 1, Rate: rep.RepeatRate.Rate}, rep.RepeatRate)
	require.NotNil(t, rep.DisputeRate.Rate)
	assert.Equal(t, 0.0, *rep.DisputeRate.Rate)
}
