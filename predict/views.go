package predict

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gongdan/core/store"
)

// DeviceView is a device's history as GET /api/v1/devices/{id} shows it: the device's own
// figures and those of its model.
type DeviceView struct {
	Health Health       `json:"health"`
	Model  *ModelHealth `json:"model_health,omitempty"`
}

// Device returns device id's history; known false when it has none (no ticket counted).
// model is the registry's model of the device, for the model's figures when the history
// names none.
func (t *Tracker) Device(ctx context.Context, id, model string) (view DeviceView, known bool, err error) {
	h, err := t.opts.Store.DeviceHealth(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		h = store.DeviceHealth{DeviceID: id}
	case err != nil:
		return DeviceView{}, false, err
	default:
		known = true
		if h.Model != "" {
			model = h.Model
		}
	}
	view.Health = HealthOf(h, t.opts.Now(), t.opts.Location)
	if model != "" {
		m, err := t.opts.Store.ModelHealth(ctx, model)
		if err != nil {
			return DeviceView{}, false, err
		}
		mh := ModelHealthOf(m)
		view.Model = &mh
	}
	return view, known, nil
}

// ReportRow is one device of the devices report.
type ReportRow struct {
	DeviceID string `json:"device_id"`
	Model    string `json:"model"`
	Health
}

// Report is the devices report (gongdan report devices, GET /api/v1/reports/devices): the
// devices to look at first — the chronic ones, then the soonest to fail by their estimated
// next failure (overdue ones first), then those without an estimate; ties by more failures,
// then by id.
type Report struct {
	At      time.Time   `json:"at"`
	Top     int         `json:"top"`
	Devices []ReportRow `json:"devices"`
}

// MaxTop bounds a report's length.
const MaxTop = 1000

// Report returns the top devices.
func (t *Tracker) Report(ctx context.Context, top int) (Report, error) {
	if top <= 0 || top > MaxTop {
		return Report{}, fmt.Errorf("top %d: want 1 to %d", top, MaxTop)
	}
	now := t.opts.Now()
	hs, err := t.opts.Store.DeviceRanking(ctx, now, top)
	if err != nil {
		return Report{}, err
	}
	rep := Report{At: now.In(t.opts.Location), Top: top, Devices: make([]ReportRow, len(hs))}
	for i, h := range hs {
		rep.Devices[i] = ReportRow{DeviceID: h.DeviceID, Model: h.Model, Health: HealthOf(h, now, t.opts.Location)}
	}
	return rep, nil
}

// Rebuild forgets device history and records it again from every event in the store, in
// order, without taking any preventive draft in (those of the past were taken in when they
// happened). It returns the number of events read.
func (t *Tracker) Rebuild(ctx context.Context) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.opts.Store.Write(ctx, func(tx store.Tx) error { return tx.ResetHistory() }); err != nil {
		return 0, fmt.Errorf("predict: rebuild: %w", err)
	}
	t.chronicMu.Lock()
	t.chronic = map[string]time.Time{}
	t.chronicMu.Unlock()
	var after int64
	n := 0
	for {
		evs, err := t.opts.Store.EventsAfter(ctx, after, 500)
		if err != nil {
			return n, fmt.Errorf("predict: rebuild: %w", err)
		}
		if len(evs) == 0 {
			return n, nil
		}
		for _, ev := range evs {
			if _, err := t.apply(ctx, ev); err != nil {
				return n, fmt.Errorf("predict: rebuild at event %d: %w", ev.ID, err)
			}
			n++
		}
		after = evs[len(evs)-1].ID
	}
}
