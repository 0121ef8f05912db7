package console

import (
	"net/http"
	"strings"

	"gongdan/core/ticket"
	"gongdan/web/webkit"
)

// The engineer's phone view (issue 22, page 5): the signed-in engineer's open tickets, each
// with its address, a navigation link and big buttons for the next step. Written for a
// 375-pixel screen in WeChat's in-app browser; its forms are kept and retried with the same
// command id when the phone has no signal (console.js, data-queue), so a retry is done once.

func init() {
	pageRegistry = append(pageRegistry, func(h *Handler) {
		h.page("GET /console/me", "GET /api/v1/tickets", h.mePage)
		h.page("GET /console/me/tickets/{id}", "GET /api/v1/tickets/{id}", func(w http.ResponseWriter, r *http.Request, v *viewer) {
			h.ticketPage(w, r, v, r.PathValue("id"), true, nil)
		})
		h.addNavFor("my_tickets", "/console/me", "GET /api/v1/tickets", ticket.RoleEngineer)
	})
}

// myStates are the states in which a ticket is in an engineer's hands.
var myStates = []ticket.State{ticket.StateAssigned, ticket.StateAccepted, ticket.StateInProgress, ticket.StateAwaitingParts, ticket.StatePaused}

type meView struct {
	Lang    webkit.Lang
	Tickets []myTicket
	Photos  bool
}

type myTicket struct {
	T       ticket.Ticket
	MapLink string
	Actions []actionForm // the ones without fields: one tap
	More    bool         // actions with a form (decline, parts, resolve…) on the ticket's page
}

func (h *Handler) mePage(w http.ResponseWriter, r *http.Request, v *viewer) {
	states := make([]string, len(myStates))
	for i, s := range myStates {
		states[i] = string(s)
	}
	var page struct {
		Tickets []ticket.Ticket `json:"tickets"`
	}
	// One call: the API's list by assignee and state, by index.
	if err := h.get(r, v, query("/api/v1/tickets", "assignee", v.Actor.ID, "state", strings.Join(states, ","), "limit", "100"), &page); err != nil {
		h.apiFailed(w, r, v, err)
		return
	}
	view := meView{Lang: v.Lang, Photos: h.opts.Attachments != nil}
	for _, t := range page.Tickets {
		if t.Assignee != v.Actor.ID {
			continue
		}
		mt := myTicket{T: t, MapLink: mapLink(t.Location)}
		for _, f := range h.actionsFor(v, t, nil, "/console/me") {
			if f.Kind == "plain" {
				mt.Actions = append(mt.Actions, f)
			} else {
				mt.More = true
			}
		}
		view.Tickets = append(view.Tickets, mt)
	}
	h.render(w, r, v, http.StatusOK, "me", Page{Title: v.T("my_tickets"), Data: view, Live: true})
}
