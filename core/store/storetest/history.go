package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/store"
)

// Device history: failures read back as kept (to the millisecond), per device and per model
// and fault within a window; figures per device, summed per model, ranked chronic first, then
// by the estimated next failure with those without one last; a failed write keeps nothing;
// a reset forgets everything.
func testDeviceHistory(t *testing.T, f *fixture) {
	t0 := time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)
	fail := func(id, device, model, fault string, at time.Duration) store.Failure {
		return store.Failure{TicketID: id, DeviceID: device, Model: model, Fault: fault, FailedAt: t0.Add(at)}
	}
	a := fail("T1", "D1", "M", "过热", 0)
	b := fail("T2", "D2", "M", "过热", time.Hour)
	c := fail("T3", "D1", "M", "漏油", 2*time.Hour)
	d := fail("T4", "D3", "N", "过热", 3*time.Hour)
	b.ResolvedAt = t0.Add(90 * time.Minute)
	require.NoError(t, f.write(func(w *writer) error {
		return errors.Join(w.tx.PutFailure(a), w.tx.PutFailure(b), w.tx.PutFailure(c), w.tx.PutFailure(d))
	}))
	require.NoError(t, f.write(func(w *writer) error {
		got, err := w.tx.Failure("T2")
		require.NoError(t, err)
		assert.Equal(t, b, got)
		_, err = w.tx.Failure("T9")
		assert.ErrorIs(t, err, store.ErrNotFound)
		fs, err := w.tx.DeviceFailures("D1")
		require.NoError(t, err)
		assert.Equal(t, []store.Failure{a, c}, fs)
		fs, err = w.tx.ClusterFailures("M", "过热", t0, t0.Add(time.Hour))
		require.NoError(t, err)
		assert.Equal(t, []store.Failure{a, b}, fs, "both bounds included")
		fs, err = w.tx.ClusterFailures("M", "过热", t0.Add(time.Minute), t0.Add(time.Hour))
		require.NoError(t, err)
		assert.Equal(t, []store.Failure{b}, fs)
		return w.tx.DeleteFailure("T4")
	}))

	health := []store.DeviceHealth{
		{DeviceID: "soon", Model: "M", Failures: 2, FirstFailure: t0, LastFailure: t0.Add(10 * time.Hour), NextFailure: t0.Add(20 * time.Hour),
			Repairs: 1, RepairTotal: 3 * time.Hour},
		{DeviceID: "late", Model: "M", Failures: 3, FirstFailure: t0, LastFailure: t0.Add(20 * time.Hour), NextFailure: t0.Add(30 * time.Hour),
			Repairs: 2, RepairTotal: 2 * time.Hour},
		{DeviceID: "once", Model: "M", Failures: 1, FirstFailure: t0, LastFailure: t0},
		{DeviceID: "chronic", Model: "N", Failures: 3, FirstFailure: t0, LastFailure: t0.Add(time.Hour), NextFailure: t0.Add(90 * time.Minute),
			ChronicUntil: t0.Add(48 * time.Hour)},
		{DeviceID: "was", Model: "N", Failures: 3, FirstFailure: t0, LastFailure: t0.Add(time.Hour), NextFailure: t0.Add(40 * time.Hour),
			ChronicUntil: t0.Add(2 * time.Hour)},
	}
	require.NoError(t, f.write(func(w *writer) error {
		for _, h := range health {
			if err := w.tx.PutDeviceHealth(h); err != nil {
				return err
			}
		}
		return nil
	}))
	got, err := f.s.DeviceHealth(f.ctx, "soon")
	require.NoError(t, err)
	assert.Equal(t, health[0], got)
	_, err = f.s.DeviceHealth(f.ctx, "nowhere")
	assert.ErrorIs(t, err, store.ErrNotFound)

	m, err := f.s.ModelHealth(f.ctx, "M")
	require.NoError(t, err)
	assert.Equal(t, store.ModelHealth{Model: "M", Devices: 3, Failures: 6, Intervals: 3, IntervalTotal: 30 * time.Hour,
		Repairs: 3, RepairTotal: 5 * time.Hour}, m)

	now := t0.Add(24 * time.Hour)
	ranked, err := f.s.DeviceRanking(f.ctx, now, 10)
	require.NoError(t, err)
	var ids []string
	for _, h := range ranked {
		ids = append(ids, h.DeviceID)
	}
	assert.Equal(t, []string{"chronic", "soon", "late", "was", "once"}, ids)
	chronic, err := f.s.ChronicDevices(f.ctx, now)
	require.NoError(t, err)
	assert.Equal(t, map[string]time.Time{"chronic": t0.Add(48 * time.Hour)}, chronic)

	failed := errors.New("the batch fails")
	err = f.write(func(w *writer) error {
		require.NoError(t, w.tx.DeleteDeviceHealth("soon"))
		require.NoError(t, w.tx.ResetHistory())
		return failed
	})
	require.ErrorIs(t, err, failed)
	_, err = f.s.DeviceHealth(f.ctx, "soon")
	require.NoError(t, err, "the failed write kept nothing")

	require.NoError(t, f.write(func(w *writer) error { return w.tx.ResetHistory() }))
	ranked, err = f.s.DeviceRanking(f.ctx, now, 10)
	require.NoError(t, err)
	assert.Empty(t, ranked)
	require.NoError(t, f.write(func(w *writer) error {
		fs, err := w.tx.DeviceFailures("D1")
		assert.Empty(t, fs)
		return err
	}))
}
