package sla_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/sla"
)

func orangePolicy(t *testing.T, cal *sla.Calendar) *sla.Policy {
	t.Helper()
	ps, errs := sla.NewPolicies([]sla.Policy{{ID: "orange", When: `urgency == "orange"`, Calendar: cal,
		Goals: map[sla.Target]time.Duration{sla.Response: 30 * time.Minute, sla.Resolution: 4 * time.Hour}, WarnAt: 0.8,
		Tiers: []sla.Tier{{Name: "yellow", After: 5 * time.Minute, Notify: []string{"assignee"}, Quiet: cnOffice()},
			{Name: "red", After: 30 * time.Minute, Notify: []string{"team_lead"}},
			{Name: "black", After: 2 * time.Hour, Notify: []string{"regional_director"}, Escalate: true}}}})
	require.Empty(t, errs)
	p := ps.Choose(sla.Env{Urgency: "orange"})
	require.NotNil(t, p)
	return p
}

func clockOf(cs []sla.Clock, target sla.Target) sla.Clock {
	for _, c := range cs {
		if c.Target == target {
			return c
		}
	}
	return sla.Clock{}
}

func TestClocksRunPauseAndStop(t *testing.T) {
	always := &sla.Calendar{Name: "24x7", Location: shanghai, Always: true}
	p := orangePolicy(t, always)
	t0 := at(shanghai, "2026-11-24 10:00")
	h := func(offset time.Duration, state string) sla.StateAt {
		return sla.StateAt{At: t0.Add(offset), State: state}
	}

	// Running: 10 minutes in.
	cs := p.Clocks([]sla.StateAt{h(0, "new")}, t0.Add(10*time.Minute))
	resp := clockOf(cs, sla.Response)
	assert.Equal(t, sla.StatusRunning, resp.Status)
	assert.Equal(t, t0.Add(30*time.Minute), resp.Due)
	assert.Equal(t, 20*time.Minute, resp.Remaining)
	assert.Equal(t, t0.Add(24*time.Minute), resp.WarnAt, "80% of 30 minutes")

	// Accepted at 20 minutes: met; the resolution clock goes on.
	hist := []sla.StateAt{h(0, "new"), h(5*time.Minute, "assigned"), h(20*time.Minute, "accepted"), h(30*time.Minute, "in_progress")}
	cs = p.Clocks(hist, t0.Add(time.Hour))
	resp = clockOf(cs, sla.Response)
	assert.Equal(t, sla.StatusMet, resp.Status)
	assert.Equal(t, t0.Add(20*time.Minute), resp.StoppedAt)
	assert.Zero(t, resp.BreachedAt)
	res := clockOf(cs, sla.Resolution)
	assert.Equal(t, sla.StatusRunning, res.Status)
	assert.Equal(t, t0.Add(4*time.Hour), res.Due)

	// Two hours waiting for parts move the resolution due time by two hours.
	hist = append(hist, h(time.Hour, "awaiting_parts"), h(3*time.Hour, "in_progress"))
	cs = p.Clocks(hist, t0.Add(2*time.Hour))
	res = clockOf(cs, sla.Resolution)
	assert.Equal(t, sla.StatusPaused, res.Status)
	assert.Equal(t, time.Hour, res.Paused)
	assert.Zero(t, res.Due, "unknown while paused")
	cs = p.Clocks(hist, t0.Add(3*time.Hour+30*time.Minute))
	res = clockOf(cs, sla.Resolution)
	assert.Equal(t, sla.StatusRunning, res.Status)
	assert.Equal(t, 2*time.Hour, res.Paused)
	assert.Equal(t, 90*time.Minute, res.Elapsed)
	assert.Equal(t, t0.Add(6*time.Hour), res.Due, "4 h of work after creation, plus the 2 h paused")

	// Resolved late: breached, stopped.
	hist = append(hist, h(7*time.Hour, "resolved"))
	cs = p.Clocks(hist, t0.Add(8*time.Hour))
	res = clockOf(cs, sla.Resolution)
	assert.Equal(t, sla.StatusBreached, res.Status)
	assert.Equal(t, t0.Add(6*time.Hour), res.BreachedAt)
	assert.Equal(t, t0.Add(7*time.Hour), res.StoppedAt)

	// Reopened: the resolution clock runs again from where it stopped.
	hist = append(hist, h(9*time.Hour, "in_progress"))
	cs = p.Clocks(hist, t0.Add(10*time.Hour))
	res = clockOf(cs, sla.Resolution)
	assert.Equal(t, sla.StatusBreached, res.Status)
	assert.Zero(t, res.StoppedAt)
	assert.Equal(t, 6*time.Hour, res.Elapsed, "5 h before the resolve, 1 h after the reopen")
}

func TestClocksOnABusinessCalendar(t *testing.T) {
	p := orangePolicy(t, cnOffice())
	// Created on the eve of National Day at 17:20: 10 minutes of it before closing, then the
	// holiday week (10-01..10-07) stands still.
	created := at(shanghai, "2026-09-30 17:20")
	cs := p.Clocks([]sla.StateAt{{At: created, State: "new"}}, created.Add(time.Minute))
	resp := clockOf(cs, sla.Response)
	assert.Equal(t, at(shanghai, "2026-10-08 08:50"), resp.Due)
	assert.Equal(t, at(shanghai, "2026-10-08 08:44"), resp.WarnAt, "80% of 30 min")
	res := clockOf(cs, sla.Resolution)
	assert.Equal(t, at(shanghai, "2026-10-08 13:20"), res.Due, "10 min on 09-30, 3.5 h on 10-08 up to lunch, 20 min after it")
}

func TestMarksComeInOrderAndQuietTiersWaitForWorkingTime(t *testing.T) {
	always := &sla.Calendar{Name: "24x7", Location: shanghai, Always: true}
	p := orangePolicy(t, always)
	// Created on Saturday 2026-11-28 at 22:00 and never touched.
	created := at(shanghai, "2026-11-28 22:00")
	marks := p.Marks(p.Clocks([]sla.StateAt{{At: created, State: "new"}}, created))
	var keys []string
	fire := map[string]time.Time{}
	for _, m := range marks {
		keys = append(keys, m.Key)
		fire[m.Key] = m.FireAt
	}
	assert.Equal(t, []string{
		"response/warning", "response/breach", "response/tier/red", "response/tier/black", "resolution/warning",
		"resolution/breach", "resolution/tier/red", "resolution/tier/black",
		"response/tier/yellow", "resolution/tier/yellow", // quiet: Monday 08:30
	}, keys)
	assert.Equal(t, at(shanghai, "2026-11-28 22:30"), fire["response/breach"])
	assert.Equal(t, at(shanghai, "2026-11-29 00:30"), fire["response/tier/black"])
	assert.Equal(t, at(shanghai, "2026-11-30 08:30"), fire["response/tier/yellow"], "the yellow tier waits for the office to open")
}

// A tier's offset after the breach counts only while the clock runs: a pause holds the tiers
// to come, a resolve cuts them off, a reopen goes on from where it stopped.
func TestTiersCountOnlyRunningTime(t *testing.T) {
	always := &sla.Calendar{Name: "24x7", Location: shanghai, Always: true}
	p := orangePolicy(t, always) // resolution 4 h; red +30 min, black +2 h (yellow is quiet)
	t0 := at(shanghai, "2026-11-24 10:00")
	h := func(offset time.Duration, state string) sla.StateAt {
		return sla.StateAt{At: t0.Add(offset), State: state}
	}
	fireAt := func(ms []sla.Mark, key string) (time.Time, bool) {
		for _, m := range ms {
			if m.Key == key {
				return m.FireAt, true
			}
		}
		return time.Time{}, false
	}
	base := []sla.StateAt{h(0, "new"), h(time.Minute, "assigned"), h(2*time.Minute, "accepted"), h(3*time.Minute, "in_progress")}

	// Breached at 4 h, waiting for parts from 4h10 to 7h10: black moves by the 3 h waited.
	hist := append(append([]sla.StateAt{}, base...), h(4*time.Hour+10*time.Minute, "awaiting_parts"))
	ms := p.Marks(p.Clocks(hist, t0.Add(5*time.Hour)))
	_, ok := fireAt(ms, "resolution/tier/black")
	assert.False(t, ok, "held while paused")
	_, ok = fireAt(ms, "resolution/tier/red")
	assert.False(t, ok, "red (30 min after the breach) was not reached: the clock paused 10 min after it")
	hist = append(hist, h(7*time.Hour+10*time.Minute, "in_progress"))
	ms = p.Marks(p.Clocks(hist, t0.Add(7*time.Hour+11*time.Minute)))
	red, ok := fireAt(ms, "resolution/tier/red")
	require.True(t, ok)
	assert.Equal(t, t0.Add(7*time.Hour+30*time.Minute), red, "the 20 min left after the resume")
	black, ok := fireAt(ms, "resolution/tier/black")
	require.True(t, ok)
	assert.Equal(t, t0.Add(9*time.Hour), black, "10 min ran before the pause, 1h50 after it")

	// Resolved (late) at 5 h, reopened three days later: black comes 1 h after the reopen, not at once.
	hist = append(append([]sla.StateAt{}, base...), h(5*time.Hour, "resolved"))
	ms = p.Marks(p.Clocks(hist, t0.Add(6*time.Hour)))
	_, ok = fireAt(ms, "resolution/tier/black")
	assert.False(t, ok, "a resolve cuts the tiers off")
	reopen := 77 * time.Hour
	hist = append(hist, h(reopen, "in_progress"))
	ms = p.Marks(p.Clocks(hist, t0.Add(reopen+time.Second)))
	black, ok = fireAt(ms, "resolution/tier/black")
	require.True(t, ok)
	assert.Equal(t, t0.Add(reopen+time.Hour), black)
}
