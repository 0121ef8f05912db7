package api

import (
	"net/http"

	"gongdan/core/engine"
	"gongdan/core/store"
	"gongdan/core/ticket"
)

// routeSLA adds the SLA endpoints.
func (s *Server) routeSLA(mux *http.ServeMux, staff []ticket.Role) {
	s.handle(mux, "GET /api/v1/tickets/{id}/sla", staff, s.ticketSLA)
	s.handle(mux, "GET /api/v1/sla/board", staff, s.slaBoard)
}

// ticketSLA answers a ticket's clocks: per target the goal, due time, working time elapsed,
// remaining and paused, the status, and each warning, breach and tier with when it is due
// and when it fired.
func (s *Server) ticketSLA(w http.ResponseWriter, r *http.Request) {
	if v, ok := readTicket(s, w, r, s.opts.Engine.SLA); ok {
		writeJSON(w, http.StatusOK, v)
	}
}

// slaBoard answers the open tickets nearest to a breach first (breached ones, the longest
// breached, before them), with the colour of the last tier fired; of one team (?team=) and
// of one policy (?policy=) when asked.
func (s *Server) slaBoard(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, p := parseLimit(q, store.DefaultLimit)
	if p != nil {
		s.fail(w, r, p)
		return
	}
	board, err := s.opts.Engine.SLABoard(r.Context(), store.BoardQuery{Team: q.Get("team"), Policy: q.Get("policy"), Limit: limit})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if board == nil {
		board = []engine.BoardEntry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tickets": board, "at": s.opts.Engine.Now()})
}
