package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"gongdan/core/engine"
	"gongdan/core/report"
	"gongdan/core/ticket"
)

// MaxKPISince is the longest look-back of the KPI report: ten years of daily backlog points
// per group is already more than a report needs, and a caller must not make the server build
// more.
const MaxKPISince = 3660 * 24 * time.Hour

// routeKPI adds the KPI report: the same roles as the routing report (admin, supervisor,
// dispatcher), who answer for the figures of the whole service.
func (s *Server) routeKPI(mux *http.ServeMux) {
	desk := []ticket.Role{ticket.RoleAdmin, ticket.RoleSupervisor, ticket.RoleDispatcher}
	s.handle(mux, "GET /api/v1/reports/kpi", desk, s.kpiReport)
	s.handle(mux, "GET /api/v1/reports/kpi/series", desk, s.kpiSeries)
	s.handle(mux, "GET /api/v1/reports/intake", desk, s.intakeReport)
}

// MaxSeriesSince is the longest look-back of the KPI series: a year of days.
const MaxSeriesSince = 366 * 24 * time.Hour

// MaxIntakeHours is the longest look-back of the intake report: a week of hours.
const MaxIntakeHours = 7 * 24

// kpiSeries answers GET /api/v1/reports/kpi/series?since=30d&every=day: the KPIs of each day
// (or week) of the look-back, for trend lines.
func (s *Server) kpiSeries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since, p := sinceParam(q, MaxSeriesSince, "ask the KPI report for longer periods")
	if p != nil {
		s.fail(w, r, p)
		return
	}
	every := q.Get("every")
	if every == "" {
		every = report.EveryDay
	}
	if every != report.EveryDay && every != report.EveryWeek {
		s.fail(w, r, badParam("every", fmt.Sprintf("%q is not a step; one of: day, week", every)))
		return
	}
	series, err := s.opts.Engine.KPISeries(r.Context(), s.opts.Engine.Now().Add(-since), every)
	err = reportsOff(err)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, series)
}

// intakeReport answers GET /api/v1/reports/intake?hours=24: the tickets each connector opened
// in each of the last hours (the current one included).
func (s *Server) intakeReport(w http.ResponseWriter, r *http.Request) {
	hours := 24
	if v := r.URL.Query().Get("hours"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxIntakeHours {
			s.fail(w, r, badParam("hours", fmt.Sprintf("hours must be 1 to %d, got %q", MaxIntakeHours, v)))
			return
		}
		hours = n
	}
	in, err := s.opts.Engine.IntakeReport(r.Context(), hours)
	err = reportsOff(err)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, in)
}

// kpiReport answers GET /api/v1/reports/kpi?since=30d&by=team: the KPIs of docs/KPIS.md
// over the look-back, broken down by by when given.
func (s *Server) kpiReport(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since, p := sinceParam(q, MaxKPISince, "the backlog trend has a point a day")
	if p != nil {
		s.fail(w, r, p)
		return
	}
	by := q.Get("by")
	if err := report.CheckBy(by); err != nil {
		s.fail(w, r, badParam("by", err.Error()))
		return
	}
	rep, err := s.opts.Engine.KPIReport(r.Context(), s.opts.Engine.Now().Add(-since), by)
	err = reportsOff(err)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// sinceParam reads a report's look-back (since=30d; default 30 days), at most max; why says
// what to do instead of a longer one.
func sinceParam(q url.Values, max time.Duration, why string) (time.Duration, *Problem) {
	v := q.Get("since")
	if v == "" {
		return 30 * 24 * time.Hour, nil
	}
	d, err := ParseSince(v)
	if err != nil {
		return 0, badParam("since", err.Error())
	}
	if d > max {
		return 0, badParam("since", fmt.Sprintf("%q is more than %d days back; %s", v, max/(24*time.Hour), why))
	}
	return d, nil
}

// reportsOff says a store without KPI facts as a 501.
func reportsOff(err error) error {
	if errors.Is(err, engine.ErrReportsOff) {
		return newProblem(http.StatusNotImplemented, "reports-off", "the store keeps no KPI facts (the SQLite store does)")
	}
	return err
}
