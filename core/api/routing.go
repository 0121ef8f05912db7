package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"gongdan/core/engine"
	"gongdan/core/routing"
	"gongdan/core/store"
	"gongdan/core/ticket"
)

// routeRouting adds the routing endpoints.
func (s *Server) routeRouting(mux *http.ServeMux, staff []ticket.Role) {
	desk := []ticket.Role{ticket.RoleAdmin, ticket.RoleSupervisor, ticket.RoleDispatcher}
	s.handle(mux, "GET /api/v1/tickets/{id}/routing", staff, s.ticketRouting)
	s.handle(mux, "GET /api/v1/engineers", staff, s.listEngineers)
	s.handle(mux, "GET /api/v1/engineers/{id}", staff, s.getEngineer)
	s.handle(mux, "PUT /api/v1/engineers/{id}", append(desk, ticket.RoleEngineer), s.putEngineer)
	// Cards are a disciplinary record: the desk and qa read anyone's, an engineer their own.
	s.handle(mux, "GET /api/v1/engineers/{id}/cards", append(slices.Clone(desk), ticket.RoleQA, ticket.RoleEngineer), s.engineerCards)
	s.handle(mux, "GET /api/v1/reports/routing", desk, s.routingReport)
	// The dry run is for assigning by hand: the roles the ticket's rules let assign.
	var assigners []ticket.Role
	for _, role := range staff {
		if ticket.CheckRole(ticket.ActionAssign, role) == nil {
			assigners = append(assigners, role)
		}
	}
	s.handle(mux, "GET /api/v1/tickets/{id}/candidates", assigners, s.ticketCandidates)
}

// ticketCandidates answers the decision the router would make for the ticket now — every
// team tried, each candidate's filters, distance, load and score, the winner — and changes
// nothing: the ranked candidates a dispatcher assigns from by hand.
func (s *Server) ticketCandidates(w http.ResponseWriter, r *http.Request) {
	v, err := s.opts.Engine.Candidates(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		err = ticketNotFound(r.PathValue("id"))
	}
	if err != nil {
		s.fail(w, r, routingErr(err))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// routingRecord is one decision as the API shows it: the record and its trace.
type routingRecord struct {
	store.RoutingRecord
	Trace json.RawMessage `json:"trace"`
}

func (s *Server) ticketRouting(w http.ResponseWriter, r *http.Request) {
	recs, ok := readTicket(s, w, r, s.opts.Engine.RoutingDecisions)
	if !ok {
		return
	}
	out := make([]routingRecord, len(recs))
	for i, rec := range recs {
		rec.At = rec.At.In(s.opts.Engine.Location())
		out[i] = routingRecord{RoutingRecord: rec, Trace: rec.Body}
	}
	writeJSON(w, http.StatusOK, map[string]any{"ticket": r.PathValue("id"), "decisions": out})
}

func (s *Server) listEngineers(w http.ResponseWriter, r *http.Request) {
	vs, err := s.opts.Engine.Engineers(r.Context())
	if err != nil {
		s.fail(w, r, routingErr(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"engineers": vs})
}

func (s *Server) getEngineer(w http.ResponseWriter, r *http.Request) {
	v, err := s.opts.Engine.Engineer(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, routingErr(err))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// putEngineer changes status, live location or skills. An engineer may change their own
// status and location, not their skills nor anyone else's.
func (s *Server) putEngineer(w http.ResponseWriter, r *http.Request) {
	var u engine.EngineerUpdate
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &u, false); err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	if a := actorOf(r); a.Role == ticket.RoleEngineer {
		switch {
		case a.ID != id:
			s.fail(w, r, newProblem(http.StatusForbidden, "forbidden", fmt.Sprintf("an engineer may change only their own record, not %s's", id)))
			return
		case u.Skills != nil:
			s.fail(w, r, newProblem(http.StatusForbidden, "forbidden", "skills are set by a dispatcher, supervisor or admin"))
			return
		case u.Status != nil:
			// A suspension is lifted by a supervisor, not by the engineer suspended.
			if v, err := s.opts.Engine.Engineer(r.Context(), id); err == nil && v.EffectiveStatus == routing.StatusSuspended {
				s.fail(w, r, newProblem(http.StatusForbidden, "forbidden", "a suspended engineer's status is changed by a supervisor, dispatcher or admin"))
				return
			}
		}
	}
	v, err := s.opts.Engine.UpdateEngineer(r.Context(), id, u)
	if err != nil {
		s.fail(w, r, routingErr(err))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// engineerCards lists an engineer's yellow and red cards, the newest first. An engineer may
// read only their own: another engineer's id answers 403 whether or not it exists.
func (s *Server) engineerCards(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if a := actorOf(r); a.Role == ticket.RoleEngineer && a.ID != id {
		s.fail(w, r, newProblem(http.StatusForbidden, "forbidden", fmt.Sprintf("an engineer may read only their own cards, not %s's", id)))
		return
	}
	v, err := s.opts.Engine.Cards(r.Context(), id)
	if err != nil {
		s.fail(w, r, routingErr(err))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) routingReport(w http.ResponseWriter, r *http.Request) {
	since := 30 * 24 * time.Hour
	if v := r.URL.Query().Get("since"); v != "" {
		d, err := ParseSince(v)
		if err != nil {
			s.fail(w, r, badParam("since", err.Error()))
			return
		}
		since = d
	}
	rep, err := s.opts.Engine.RoutingReport(r.Context(), s.opts.Engine.Now().Add(-since))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// ParseSince reads a look-back like 30d, 12h or 90m.
func ParseSince(v string) (time.Duration, error) {
	var n int
	var unit string
	if _, err := fmt.Sscanf(v, "%d%s", &n, &unit); err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a look-back; write 30d, 12h or 90m", v)
	}
	switch unit {
	case "d":
		return time.Duration(n) * 24 * time.Hour, nil
	case "h":
		return time.Duration(n) * time.Hour, nil
	case "m":
		return time.Duration(n) * time.Minute, nil
	}
	return 0, fmt.Errorf("%q is not a look-back; write 30d, 12h or 90m", v)
}

func routingErr(err error) error {
	if errors.Is(err, engine.ErrRoutingOff) {
		return newProblem(http.StatusNotFound, "routing-off", "routing is not configured: add a routing section to the config")
	}
	return err
}
