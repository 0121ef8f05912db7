package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"

	"gongdan/connectors"
	"gongdan/core/engine"
	"gongdan/core/ticket"
	"gongdan/normalize"
	"gongdan/pipeline/deadletter"
)

// Connectors is what the API needs of the running connectors.
type Connectors interface {
	// Status lists each instance's state and counters.
	Status() []connectors.Status
	// Receiver returns the HTTP handler of the instance named name mounted under mount.
	Receiver(mount, name string) (http.Handler, bool)
}

// openConnectors is what Connectors may also tell: which instances authenticate nobody.
type openConnectors interface {
	Open(name string) bool
}

// Replayer sends a dead letter through the pipeline again.
type Replayer interface {
	Replay(ctx context.Context, id string) (deadletter.DeadLetter, error)
}

// operators are the roles that look after intake: connectors and dead letters.
var operators = []ticket.Role{ticket.RoleAdmin, ticket.RoleSupervisor}

func (s *Server) routeIntake(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/connectors", s.auth(operators, s.listConnectors))
	mux.Handle("GET /api/v1/deadletters", s.auth(operators, s.listDeadLetters))
	mux.Handle("GET /api/v1/deadletters/{id}", s.auth(operators, s.getDeadLetter))
	mux.Handle("POST /api/v1/deadletters/{id}/replay", s.auth(operators, s.replayDeadLetter))
	// Connectors authenticate their own requests (signatures, WeChat's token), so these
	// routes take no bearer token.
	mux.HandleFunc("/ingest/{connector}", s.receive("ingest"))
	mux.HandleFunc("/wechat/{connector}", s.receive("wechat"))
}

// writeIntake answers POST /api/v1/tickets with what became of draft d; header
// Gongdan-Intake names it. Created: 201 with the new ticket; duplicate or merged: 200 with the
// ticket it went into; unmatched: 404 no-open-ticket, since a draft with an intent never opens
// a ticket and nothing was written.
func writeIntake(w http.ResponseWriter, r *http.Request, d normalize.Draft, t ticket.Ticket, outcome engine.Outcome) {
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

func (s *Server) receive(mount string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("connector")
		var h http.Handler
		ok := false
		if s.opts.Connectors != nil {
			h, ok = s.opts.Connectors.Receiver(mount, name)
		}
		if !ok {
			writeProblem(w, r, newProblem(http.StatusNotFound, "not-found",
				fmt.Sprintf("no connector named %q takes requests at /%s/ (see connectors: in the config)", name, mount)))
			return
		}
		// A connector that authenticates nobody is served on loopback only (validate refuses it
		// elsewhere); a proxy on this host would make it anyone's, so it takes requests only
		// from this host, directly.
		if oc, isOpen := s.opts.Connectors.(openConnectors); isOpen && oc.Open(name) && !ClientOf(r).Local() {
			writeProblem(w, r, newProblem(http.StatusForbidden, "local-only", fmt.Sprintf(
				"connector %s authenticates nobody (no signature or tokens), so it takes requests only from this host, not through a proxy; configure its signature or tokens", name)))
			return
		}
		// Connectors see the client, not the proxy in front of it (server.trusted_proxies):
		// their budgets and logs are per sender.
		if c := ClientOf(r); c.Addr.IsValid() && c.Addr != peerAddr(r) {
			r = r.Clone(r.Context())
			r.RemoteAddr = netip.AddrPortFrom(c.Addr, 0).String()
		}
		h.ServeHTTP(w, r)
	}
}

func (s *Server) listConnectors(w http.ResponseWriter, r *http.Request) {
	list := []connectors.Status{}
	if s.opts.Connectors != nil {
		list = s.opts.Connectors.Status()
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
