package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"gongdan/core/engine"
	"gongdan/core/ticket"
	"gongdan/draft"
	"gongdan/pipeline/deadletter"
)

// Route is a handler the composition root mounts beside the API — the connectors' intake at
// /ingest/{connector} and /wechat/{connector} — served under the API's middleware (request id,
// the client behind trusted proxies, metrics, panics as 500s). The API itself knows no
// connector: intake enters at the edge, not through the core.
type Route struct {
	Pattern string
	Handler http.Handler
}

// Replayer sends a dead letter through the pipeline again.
type Replayer interface {
	Replay(ctx context.Context, id string) (deadletter.DeadLetter, error)
}

// operators are the roles that look after intake: connectors and dead letters.
var operators = []ticket.Role{ticket.RoleAdmin, ticket.RoleSupervisor}

func (s *Server) routeIntake(mux *http.ServeMux) {
	s.handle(mux, "GET /api/v1/connectors", operators, s.listConnectors)
	s.handle(mux, "GET /api/v1/deadletters", operators, s.listDeadLetters)
	s.handle(mux, "GET /api/v1/deadletters/{id}", operators, s.getDeadLetter)
	s.handle(mux, "POST /api/v1/deadletters/{id}/replay", operators, s.replayDeadLetter)
}

// writeIntake answers POST /api/v1/tickets with what became of draft d; header
// Gongdan-Intake names it. Created: 201 with the new ticket; duplicate or merged: 200 with the
// ticket it went into; unmatched: 404 no-open-ticket, since a draft with an intent never opens
// a ticket and nothing was written.
func writeIntake(w http.ResponseWriter, r *http.Request, d draft.Draft, t ticket.Ticket, outcome engine.Outcome) {
	w.Header().Set("Gongdan-Intake", string(outcome))
	if outcome == engine.Unmatched {
		p := newProblem(http.StatusNotFound, "no-open-ticket", fmt.Sprintf(
			"no ticket with thread_key %q is open, and a draft of intent %s never opens one: nothing was written "+
				"(send it without intent to open a ticket)", d.ThreadKey, d.Intent))
		p.Field = "thread_key"
		writeProblem(w, r, p)
		return
	}
	w.Header().Set("Location", "/api/v1/tickets/"+t.ID)
	status := http.StatusOK
	if outcome == engine.Created {
		status = http.StatusCreated
	}
	writeJSON(w, status, t)
}

func (s *Server) listConnectors(w http.ResponseWriter, r *http.Request) {
	var list any = []any{}
	if s.opts.Connectors != nil {
		list = s.opts.Connectors()
	}
	writeJSON(w, http.StatusOK, map[string]any{"connectors": list})
}

func (s *Server) deadLetterStore(w http.ResponseWriter, r *http.Request) (deadletter.Store, bool) {
	if s.opts.DeadLetters == nil {
		writeProblem(w, r, newProblem(http.StatusServiceUnavailable, "unavailable", "this server runs no pipeline, so it has no dead letters"))
		return nil, false
	}
	return s.opts.DeadLetters, true
}

func (s *Server) listDeadLetters(w http.ResponseWriter, r *http.Request) {
	st, ok := s.deadLetterStore(w, r)
	if !ok {
		return
	}
	q := deadletter.Query{Connector: r.URL.Query().Get("connector"), Cursor: r.URL.Query().Get("cursor")}
	switch state := deadletter.State(r.URL.Query().Get("state")); state {
	case "", deadletter.StateDead, deadletter.StateReplayed:
		q.State = state
	default:
		p := newProblem(http.StatusBadRequest, "bad-request", fmt.Sprintf("state %q: use dead or replayed", state))
		p.Field = "state"
		writeProblem(w, r, p)
		return
	}
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 500 {
			p := newProblem(http.StatusBadRequest, "bad-request", "limit: a whole number from 1 to 500")
			p.Field = "limit"
			writeProblem(w, r, p)
			return
		}
		q.Limit = n
	}
	page, err := st.DeadLetters(r.Context(), q)
	if errors.Is(err, deadletter.ErrBadCursor) {
		p := newProblem(http.StatusBadRequest, "bad-request", err.Error())
		p.Field = "cursor"
		writeProblem(w, r, p)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if page.DeadLetters == nil {
		page.DeadLetters = []deadletter.DeadLetter{}
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) getDeadLetter(w http.ResponseWriter, r *http.Request) {
	st, ok := s.deadLetterStore(w, r)
	if !ok {
		return
	}
	dl, err := st.DeadLetter(r.Context(), r.PathValue("id"))
	if err != nil {
		s.failDeadLetter(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, dl)
}

func (s *Server) replayDeadLetter(w http.ResponseWriter, r *http.Request) {
	if s.opts.Replayer == nil {
		writeProblem(w, r, newProblem(http.StatusServiceUnavailable, "unavailable", "this server runs no pipeline to replay into"))
		return
	}
	dl, err := s.opts.Replayer.Replay(r.Context(), r.PathValue("id"))
	if err != nil {
		s.failDeadLetter(w, r, err)
		return
	}
	s.opts.Logger.Info("dead letter replayed", "dead_letter", dl.ID, "by", actorOf(r).ID, "request_id", requestID(r))
	writeJSON(w, http.StatusAccepted, dl)
}

func (s *Server) failDeadLetter(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, deadletter.ErrNotFound) {
		writeProblem(w, r, newProblem(http.StatusNotFound, "not-found", err.Error()))
		return
	}
	s.fail(w, r, err)
}
