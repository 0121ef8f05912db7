package api

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"gongdan/core/engine"
	"gongdan/core/store"
	"gongdan/core/ticket"
)

// The customers' tracking links as staff see them: a ticket's JSON carries tracking_url for
// staff (to send by SMS or read out on the phone; never for a customer, whose link it is),
// and POST /api/v1/tickets/{id}/tracking replaces a link that reached the wrong person.

// TrackingURL makes the link of a token: {server.public_url}/t/{token}.
type TrackingURL func(token string) string

func (s *Server) routeTracking(mux *http.ServeMux) {
	s.handle(mux, "POST /api/v1/tickets/{id}/tracking", linkReaders, s.renewTracking)
}

// withTracking is a ticket as staff read it: with its customer's tracking link.
type withTracking struct {
	ticket.Ticket
	TrackingURL string `json:"tracking_url,omitempty"`
}

// linkReaders are the roles that hand customers their links: the desk. The engineer whose
// work the customer rates, and the system's and qa's tokens, never see a customer's link.
var linkReaders = []ticket.Role{ticket.RoleAdmin, ticket.RoleSupervisor, ticket.RoleDispatcher, ticket.RoleAgent}

// staffView adds the tracking link to t for a caller at the desk; anyone else gets t as it is.
func (s *Server) staffView(ctx context.Context, caller ticket.Actor, t ticket.Ticket) any {
	if !slices.Contains(linkReaders, caller.Role) || s.opts.TrackingURL == nil {
		return t
	}
	token, err := s.opts.Engine.TrackingToken(ctx, t.ID)
	if err != nil || token == "" {
		if err != nil && !errors.Is(err, engine.ErrClosureOff) {
			s.opts.Logger.Warn("tracking link", "ticket", t.ID, "err", err)
		}
		return t
	}
	return withTracking{Ticket: t, TrackingURL: s.opts.TrackingURL(token)}
}

func (s *Server) renewTracking(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if s.opts.TrackingURL == nil {
		s.fail(w, r, newProblem(http.StatusNotFound, "not-found", "tracking links are off"))
		return
	}
	token, err := s.opts.Engine.RenewTracking(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		err = ticketNotFound(id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.opts.Logger.Info("tracking link renewed", "ticket", id, "by", actorOf(r).ID)
	writeJSON(w, http.StatusOK, map[string]string{"ticket_id": id, "tracking_url": s.opts.TrackingURL(token)})
}
