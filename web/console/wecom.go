package console

import (
	"net/http"

	"gongdan/core/ticket"
)

// WeCom is WeCom web sign-in (企业微信网页授权 inside WeCom, 扫码登录 in a desktop browser):
// a WeCom userid maps to an actor and role (config console.wecom).
type WeCom struct {
	// Users maps a WeCom userid to who they are in gongdan.
	Users map[string]ticket.Actor
}

// actorOf is the actor a WeCom userid maps to.
func (w *WeCom) actorOf(userid string) (ticket.Actor, bool) {
	if w == nil {
		return ticket.Actor{}, false
	}
	a, ok := w.Users[userid]
	return a, ok
}

func (h *Handler) wecomStart(w http.ResponseWriter, r *http.Request) {
	if h.opts.WeCom == nil {
		h.problem(w, r, nil, http.StatusNotFound, "not_found")
		return
	}
	h.problem(w, r, nil, http.StatusNotImplemented, "internal")
}

func (h *Handler) wecomCallback(w http.ResponseWriter, r *http.Request) {
	h.wecomStart(w, r)
}
