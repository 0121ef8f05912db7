package api

import (
	"errors"
	"fmt"
	"net/http"
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
}

// kpiReport answers GET /api/v1/reports/kpi?since=30d&by=team: the KPIs of docs/KPIS.md
// over the look-back, broken down by by when given.
func (s *Server) kpiReport(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since := 30 * 24 * time.Hour
	if v := q.Get("since"); v != "" {
		d, err := ParseSince(v)
		if err != nil {
			s.fail(w, r, badParam("since", err.Error()))
			return
		}
		if d > MaxKPISince {
			s.fail(w, r, badParam("since", fmt.Sprintf("%q is more than %d days back; the backlog trend has a point a day", v, MaxKPISince/(24*time.Hour))))
			return
		}
		since = d
	}
	by := q.Get("by")
	if err := report.CheckBy(by); err != nil {
		s.fail(w, r, badParam("by", err.Error()))
		return
	}
	rep, err := s.opts.Engine.KPIReport(r.Context(), s.opts.Engine.Now().Add(-since), by)
	if errors.Is(err, engine.ErrReportsOff) {
		err = newProblem(http.StatusNotImplemented, "reports-off", "the store keeps no KPI facts (the SQLite store does)")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
