package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"gongdan/core/ticket"
)

// A ticket's action forms post here; each becomes POST /api/v1/tickets/{id}/actions/{action}
// as the signed-in actor, so the API refuses what the actor may not do whatever the form
// said. A refusal shows the ticket again with the API's reason and what the user typed; a
// stale form shows what changed since it was opened.

func init() {
	pageRegistry = append(pageRegistry, func(h *Handler) {
		h.mux.Handle("POST /console/tickets/{id}/actions/{action}",
			h.signedInForm(int64(h.opts.MaxPhotos)*(h.opts.MaxPhotoBytes+4<<10)+1<<20, h.postAction))
	})
}

// wouldTake asks whether the API would take cmd now: the ticket as the viewer reads it and
// the ticket rules decide (ticket.Decide; data is checked later by the API itself). It
// answers 0, or the status and reason of the refusal.
func (h *Handler) wouldTake(r *http.Request, v *viewer, id string, cmd ticket.Command) (int, string) {
	var t ticket.Ticket
	if err := h.get(r, v, "/api/v1/tickets/"+url.PathEscape(id), &t); err != nil {
		var e *APIError
		if errors.As(err, &e) {
			return e.Status, e.Detail
		}
		return http.StatusServiceUnavailable, v.T("internal_detail")
	}
	_, err := ticket.Decide(t, cmd, h.opts.Now())
	var de *ticket.DataError
	switch {
	case err == nil || errors.As(err, &de):
		return 0, ""
	case errors.Is(err, ticket.ErrStaleVersion):
		return http.StatusConflict, v.T("stale_form")
	case errors.Is(err, ticket.ErrForbidden):
		return http.StatusForbidden, err.Error()
	default:
		return http.StatusConflict, err.Error()
	}
}

// postAction does one action of a ticket's form.
func (h *Handler) postAction(w http.ResponseWriter, r *http.Request, v *viewer) {
	id := r.PathValue("id")
	action, err := ticket.ParseAction(r.PathValue("action"))
	if err != nil {
		h.problem(w, r, v, http.StatusNotFound, "not_found")
		return
	}
	form := r.PostForm
	next := "/console/tickets/" + url.PathEscape(id)
	if n := form.Get("next"); n != "" && safeNext(n) == n {
		next = n
	}
	compact := strings.HasPrefix(next, "/console/me")
	version, _ := strconv.ParseInt(form.Get("expected_version"), 10, 64)
	kept := url.Values{}
	for k, vs := range form {
		if k != "csrf" {
			kept[k] = vs
		}
	}
	refuse := func(status int, detail string) {
		h.ticketPage(w, r, v, id, compact, &refusal{action: action, status: status, detail: detail, input: kept, version: version})
	}

	data := map[string]any{}
	switch action {
	case ticket.ActionAssign:
		data["assignee"] = strings.TrimSpace(form.Get("assignee"))
		if team := strings.TrimSpace(form.Get("team")); team != "" {
			data["team"] = team
		}
	case ticket.ActionDecline:
		data["reason_code"] = form.Get("reason_code")
		if t := strings.TrimSpace(form.Get("text")); t != "" {
			data["text"] = t
		}
	case ticket.ActionRequestParts:
		if p := strings.TrimSpace(form.Get("parts")); p != "" {
			data["parts"] = p
		}
	case ticket.ActionResolve:
		data["root_cause"] = strings.TrimSpace(form.Get("root_cause"))
		var photos [][]byte
		if r.MultipartForm != nil && len(r.MultipartForm.File["photo"]) > 0 {
			// Photos are decoded and kept only for a resolve the API would take now: a
			// refused one (another role, not the assignee, a stale form) leaves nothing.
			if st, detail := h.wouldTake(r, v, id, ticket.Command{TicketID: id, Action: action, Actor: v.Actor,
				ExpectedVersion: version, Data: json.RawMessage(`{"root_cause":"-"}`)}); st != 0 {
				refuse(st, detail)
				return
			}
			photos, err = h.readPhotos(r.MultipartForm.File["photo"])
		}
		var pe *photoError
		if errors.As(err, &pe) {
			refuse(http.StatusUnprocessableEntity, v.T(pe.Key)+pe.nameSuffix())
			return
		} else if err != nil {
			h.opts.Logger.Error("console: reading photos", "ticket", id, "err", err)
			h.problem(w, r, v, http.StatusInternalServerError, "internal")
			return
		}
		if len(photos) > 0 {
			uris, err := h.keepPhotos(photos)
			if err != nil {
				h.opts.Logger.Error("console: keeping photos", "ticket", id, "err", err)
				h.problem(w, r, v, http.StatusInternalServerError, "internal")
				return
			}
			data["evidence"] = uris
		}
	}
	body := map[string]any{"reason": form.Get("reason"), "expected_version": version, "command_id": form.Get("command_id")}
	if len(data) > 0 {
		raw, _ := json.Marshal(data)
		body["data"] = json.RawMessage(raw)
	}
	err = h.call(r.Context(), r, v.Actor, http.MethodPost, "/api/v1/tickets/"+url.PathEscape(id)+"/actions/"+string(action), body, nil)
	var e *APIError
	switch {
	case err == nil:
		if action == ticket.ActionDecline && v.Actor.Role == ticket.RoleEngineer {
			// The ticket is no longer theirs, and an engineer reads only their own.
			next = h.home(v)
		}
		http.Redirect(w, r, next, http.StatusSeeOther)
	case errors.As(err, &e) && e.Status == http.StatusConflict && e.Type != "" && strings.HasSuffix(e.Type, "stale-version"):
		refuse(e.Status, v.T("stale_form"))
	case errors.As(err, &e) && e.Status >= 400 && e.Status < 500 && e.Status != http.StatusNotFound:
		refuse(e.Status, e.Detail)
	default:
		h.apiFailed(w, r, v, err)
	}
}

func (e *photoError) nameSuffix() string {
	if e.Name == "" {
		return ""
	}
	return ": " + e.Name
}
