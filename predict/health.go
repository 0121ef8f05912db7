package predict

import (
	"slices"
	"time"

	"gongdan/core/store"
)

// Fold computes a device's figures from its failures, in any order: the pure half of device
// history, so that what is kept is always what the failures say, however they arrived.
//
//   - MTBF is the mean time between the device's consecutive failures: (last − first) / (n − 1),
//     known from two failures on.
//   - MTTR is the mean time from a failure to its ticket's (last) resolve, over the resolved
//     ones.
//   - The estimated next failure is the last failure + MTBF.
//   - The device is chronic while at least chronic.Tickets of its failures lie within
//     chronic.Within before the moment asked about: up to the chronic.Tickets-th most recent
//     failure + chronic.Within (the moment the window lets go of it), provided the window held
//     that many at the last failure; otherwise never.
func Fold(deviceID string, failures []store.Failure, chronic ChronicRule) store.DeviceHealth {
	h := store.DeviceHealth{DeviceID: deviceID, Failures: len(failures)}
	if len(failures) == 0 {
		return h
	}
	times := make([]time.Time, len(failures))
	newest := failures[0]
	for i, f := range failures {
		times[i] = f.FailedAt
		if f.FailedAt.After(newest.FailedAt) || (f.FailedAt.Equal(newest.FailedAt) && f.TicketID > newest.TicketID) {
			newest = f
		}
		if !f.ResolvedAt.IsZero() && !f.ResolvedAt.Before(f.FailedAt) {
			h.Repairs++
			h.RepairTotal += f.ResolvedAt.Sub(f.FailedAt)
		}
	}
	// The model of the newest ticket: a device re-registered under another model counts as that.
	h.Model = newest.Model
	slices.SortFunc(times, func(a, b time.Time) int { return b.Compare(a) }) // newest first
	h.LastFailure, h.FirstFailure = times[0], times[len(times)-1]
	if n := len(times); n >= 2 {
		h.NextFailure = h.LastFailure.Add(mean(h.LastFailure.Sub(h.FirstFailure), n-1))
	}
	if k := chronic.Tickets; k > 0 && len(times) >= k {
		if until := times[k-1].Add(chronic.Within); !until.Before(h.LastFailure) {
			h.ChronicUntil = until
		}
	}
	return h
}

// mean is total / n, to the millisecond (what the store keeps).
func mean(total time.Duration, n int) time.Duration {
	if n <= 0 {
		return 0
	}
	return (total / time.Duration(n)).Truncate(time.Millisecond)
}

// Health is what GET /api/v1/devices/{id} shows of a device's history.
type Health struct {
	// Failures counts the tickets on the device (rejected ones and preventive ones do not count).
	Failures int `json:"failures"`
	// Chronic: the device is chronic (频繁故障) now — its next ticket is tagged.
	Chronic      bool      `json:"chronic"`
	ChronicUntil time.Time `json:"chronic_until,omitzero"`
	FirstFailure time.Time `json:"first_failure,omitzero"`
	LastFailure  time.Time `json:"last_failure,omitzero"`
	// MTBFSeconds and MTTRSeconds are null while unknown (fewer than two failures; none
	// resolved).
	MTBFSeconds *float64 `json:"mtbf_seconds"`
	MTTRSeconds *float64 `json:"mttr_seconds"`
	// EstimatedNextFailure is the last failure + MTBF; null while MTBF is unknown.
	EstimatedNextFailure *time.Time `json:"estimated_next_failure"`
}

// ModelHealth is the figures of all the devices of one model.
type ModelHealth struct {
	Model       string   `json:"model"`
	Devices     int      `json:"devices"`
	Failures    int      `json:"failures"`
	MTBFSeconds *float64 `json:"mtbf_seconds"`
	MTTRSeconds *float64 `json:"mttr_seconds"`
}

// HealthOf is h as shown at now, in loc.
func HealthOf(h store.DeviceHealth, now time.Time, loc *time.Location) Health {
	out := Health{Failures: h.Failures, Chronic: chronicAt(h.ChronicUntil, now)}
	if !h.ChronicUntil.IsZero() {
		out.ChronicUntil = h.ChronicUntil.In(loc)
	}
	if h.Failures > 0 {
		out.FirstFailure, out.LastFailure = h.FirstFailure.In(loc), h.LastFailure.In(loc)
	}
	if h.Failures >= 2 {
		out.MTBFSeconds = seconds(mean(h.LastFailure.Sub(h.FirstFailure), h.Failures-1))
	}
	if h.Repairs > 0 {
		out.MTTRSeconds = seconds(mean(h.RepairTotal, h.Repairs))
	}
	if !h.NextFailure.IsZero() {
		next := h.NextFailure.In(loc)
		out.EstimatedNextFailure = &next
	}
	return out
}

// ModelHealthOf is m as shown.
func ModelHealthOf(m store.ModelHealth) ModelHealth {
	out := ModelHealth{Model: m.Model, Devices: m.Devices, Failures: m.Failures}
	if m.Intervals > 0 {
		out.MTBFSeconds = seconds(mean(m.IntervalTotal, m.Intervals))
	}
	if m.Repairs > 0 {
		out.MTTRSeconds = seconds(mean(m.RepairTotal, m.Repairs))
	}
	return out
}

func chronicAt(until, now time.Time) bool { return !until.IsZero() && !now.After(until) }

func seconds(d time.Duration) *float64 {
	s := d.Seconds()
	return &s
}
