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
		h.mux.Handle("POST /console/tickets/{id}/actions/{action}", h.boundedForm(h.signedIn(h.postAction)))
	})
}

// boundedForm reads a posted form (multipart with photos, or urlencoded) no larger than a
// form with the most photos allowed, before anything else reads it: a post over the bound is
// refused at once, and nothing of it is kept.
func (h *Handler) boundedForm(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := int64(h.opts.MaxPhotos)*(h.opts.MaxPhotoBytes+4<<10) + 1<<20
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		var err error
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
			// Photos over 8 MiB in all go to temporary files, removed when the request ends.
			err = r.ParseMultipartForm(8 << 20)
			if r.MultipartForm != nil {
				defer r.MultipartForm.RemoveAll()
			}
		} else {
			err = r.ParseForm()
		}
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				h.problem(w, r, nil, http.StatusRequestEntityTooLarge, "form_too_large")
				return
			}
			http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
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
		if r.MultipartForm != nil {
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
