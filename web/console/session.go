package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"gongdan/core/store"
	"gongdan/core/ticket"
	"gongdan/web/webkit"
)

// cookieName is the session cookie's name; its path is /console/.
const cookieName = "gd_console"

// touchEvery is how often a session's last use is written: idle expiry is exact to this.
const touchEvery = time.Minute

// viewer is who is signed in, for one request.
type viewer struct {
	store.Session
	Lang webkit.Lang
	// Since is the engine's newest event when the request came: its page's live stream
	// starts after it, so nothing committed while the page was read is missed.
	Since int64
}

// T is the viewer's text of key.
func (v *viewer) T(key string) string { return words.T(v.Lang, key) }

// consoleRoles are the roles that may sign in: people who work tickets. Customers have the
// tracking page; system tokens are connectors and scripts.
func consoleRole(r ticket.Role) bool {
	return r != ticket.RoleCustomer && r != ticket.RoleSystem && r != ""
}

// formLimit bounds what a signed-in page may post, but for routes that take photos.
const formLimit = 1 << 20

// signedIn runs fn for a request with a live session: without one, a page goes to the
// sign-in page and anything else answers 401. A request that changes something must carry
// the session's CSRF token (form field csrf or header X-CSRF-Token) and come from this
// origin; its body is read (at most formLimit) only once the session is known.
func (h *Handler) signedIn(fn func(w http.ResponseWriter, r *http.Request, v *viewer)) http.Handler {
	return h.signedInForm(formLimit, fn)
}

// signedInForm is signedIn for a route whose form may be up to limit bytes (photos).
// Multipart parts beyond 8 MiB go to temporary files, removed when the request ends.
func (h *Handler) signedInForm(limit int64, fn func(w http.ResponseWriter, r *http.Request, v *viewer)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, ok := h.session(r)
		if !ok {
			if r.Method == http.MethodGet && r.Header.Get("HX-Request") == "" && !strings.HasSuffix(r.URL.Path, "/events") {
				http.Redirect(w, r, "/console/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			w.Header().Set("HX-Redirect", "/console/signin")
			h.problem(w, r, nil, http.StatusUnauthorized, "signed_out")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			var err error
			if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
				err = r.ParseMultipartForm(8 << 20)
				if r.MultipartForm != nil {
					defer r.MultipartForm.RemoveAll()
				}
			} else {
				err = r.ParseForm()
			}
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				h.problem(w, r, v, http.StatusRequestEntityTooLarge, "form_too_large")
				return
			} else if err != nil {
				h.problem(w, r, v, http.StatusBadRequest, "bad_form")
				return
			}
			if !h.sameOrigin(r, v) {
				h.problem(w, r, v, http.StatusForbidden, "csrf")
				return
			}
		}
		webkit.KeepLang(w, r, "/console/")
		fn(w, r, v)
	})
}

// session finds the request's live session, ending it when it is past its idle time or age,
// or when what signed it in no longer does (a token taken out of the config, a WeCom user
// no longer mapped).
func (h *Handler) session(r *http.Request) (*viewer, bool) { return h.lookup(r, true) }

// lookup is session, recording the use (touch) or not.
func (h *Handler) lookup(r *http.Request, touch bool) (*viewer, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil || len(c.Value) != 43 {
		return nil, false
	}
	sum := sha256.Sum256([]byte(c.Value))
	s, err := h.opts.Store.SessionByHash(r.Context(), sum[:])
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			h.opts.Logger.Error("console: reading a session", "err", err)
		}
		return nil, false
	}
	now := h.opts.Now()
	if now.Sub(s.SeenAt) > h.opts.IdleTimeout || now.Sub(s.CreatedAt) > h.opts.MaxAge || !h.stillValid(s) || !consoleRole(s.Actor.Role) {
		_ = h.opts.Store.DeleteSession(r.Context(), sum[:])
		return nil, false
	}
	if touch && now.Sub(s.SeenAt) >= touchEvery {
		if err := h.opts.Store.TouchSession(r.Context(), sum[:], now); err != nil {
			h.opts.Logger.Warn("console: touching a session", "err", err)
		}
	}
	return &viewer{Session: s, Lang: webkit.LangOf(r), Since: h.opts.Engine.LastEventID()}, true
}

// stillValid reports whether what signed s in still maps to its actor.
func (h *Handler) stillValid(s store.Session) bool {
	kind, key, _ := strings.Cut(s.Via, ":")
	switch kind {
	case "token":
		sum, err := hex.DecodeString(key)
		if err != nil || len(sum) != sha256.Size {
			return false
		}
		return h.opts.API.HasToken([sha256.Size]byte(sum), s.Actor)
	case "wecom":
		a, ok := h.opts.WeCom.actorOf(key)
		return ok && a == s.Actor
	}
	return false
}

// sameOrigin checks a changing request's CSRF token and origin.
func (h *Handler) sameOrigin(r *http.Request, v *viewer) bool {
	sent := r.Header.Get("X-CSRF-Token")
	if sent == "" {
		sent = r.PostFormValue("csrf")
	}
	if subtle.ConstantTimeCompare([]byte(sent), []byte(v.CSRF)) != 1 {
		return false
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

// startSession signs actor in (newSession) and sends the browser on to next.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, actor ticket.Actor, name, via, next string) error {
	if err := h.newSession(w, r, actor, name, via); err != nil {
		return err
	}
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
	return nil
}

// newSession signs actor in: a new session (a new cookie, never one the browser brought:
// no session fixation), whose cookie it sets on w.
func (h *Handler) newSession(w http.ResponseWriter, r *http.Request, actor ticket.Actor, name, via string) error {
	secret := make([]byte, 32)
	csrf := make([]byte, 24)
	_, _ = rand.Read(secret)
	_, _ = rand.Read(csrf)
	raw := base64.RawURLEncoding.EncodeToString(secret)
	sum := sha256.Sum256([]byte(raw))
	now := h.opts.Now()
	if old, err := r.Cookie(cookieName); err == nil {
		oldSum := sha256.Sum256([]byte(old.Value))
		_ = h.opts.Store.DeleteSession(r.Context(), oldSum[:])
	}
	// Sessions that expired unused are swept at each sign-in: there are never many.
	if _, err := h.opts.Store.DeleteSessionsBefore(r.Context(), now.Add(-h.opts.IdleTimeout), now.Add(-h.opts.MaxAge)); err != nil {
		h.opts.Logger.Warn("console: sweeping expired sessions", "err", err)
	}
	if err := h.opts.Store.PutSession(r.Context(), store.Session{
		Hash: sum[:], Actor: actor, Name: name, Via: via, CSRF: base64.RawURLEncoding.EncodeToString(csrf),
		CreatedAt: now, SeenAt: now,
	}); err != nil {
		return err
	}
	http.SetCookie(w, h.cookie(r, raw, int(h.opts.MaxAge/time.Second)))
	return nil
}

// cookie is the session cookie: never readable by script, never sent with a request from
// another site, and only over TLS when the console is served behind it (Options.Secure, or
// the request came over TLS).
func (h *Handler) cookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: cookieName, Value: value, Path: "/console/", MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: h.opts.Secure || r.TLS != nil}
}

// safeNext keeps a post-sign-in destination inside the console (no open redirect).
func safeNext(next string) string {
	u, err := url.Parse(next)
	if next == "" || err != nil || u.IsAbs() || u.Host != "" || !strings.HasPrefix(u.Path, "/console/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return "/console/"
	}
	return u.RequestURI()
}

type signinData struct {
	Next  string
	WeCom bool
	Error string
	Lang  webkit.Lang
}

func (h *Handler) signinPage(w http.ResponseWriter, r *http.Request) {
	webkit.KeepLang(w, r, "/console/")
	if v, ok := h.session(r); ok {
		http.Redirect(w, r, h.home(v), http.StatusSeeOther)
		return
	}
	h.render(w, r, nil, http.StatusOK, "signin", Page{Title: words.T(webkit.LangOf(r), "signin"),
		Data: signinData{Next: safeNext(r.URL.Query().Get("next")), WeCom: h.opts.WeCom != nil, Lang: webkit.LangOf(r)}})
}

// signin exchanges an API token for a session. The form is protected by SameSite and the
// origin check: a page elsewhere cannot sign a browser in as someone else (login CSRF).
func (h *Handler) signin(w http.ResponseWriter, r *http.Request) {
	l := webkit.LangOf(r)
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
		h.problem(w, r, nil, http.StatusForbidden, "csrf")
		return
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		if u, err := url.Parse(o); err != nil || u.Host != r.Host {
			h.problem(w, r, nil, http.StatusForbidden, "csrf")
			return
		}
	}
	raw := strings.TrimSpace(r.PostFormValue("token"))
	next := safeNext(r.PostFormValue("next"))
	refuse := func(key string, status int) {
		h.render(w, r, nil, status, "signin", Page{Title: words.T(l, "signin"),
			Data: signinData{Next: next, WeCom: h.opts.WeCom != nil, Error: words.T(l, key), Lang: l}})
	}
	tok, ok := h.opts.API.Lookup(r, raw)
	if raw == "" || !ok {
		refuse("bad_token", http.StatusUnauthorized)
		return
	}
	if !consoleRole(tok.Actor.Role) {
		refuse("not_console_role", http.StatusForbidden)
		return
	}
	sum := sha256.Sum256([]byte(raw))
	if err := h.startSession(w, r, tok.Actor, tok.Actor.ID, "token:"+hex.EncodeToString(sum[:]), next); err != nil {
		h.opts.Logger.Error("console: keeping a session", "err", err)
		h.problem(w, r, nil, http.StatusServiceUnavailable, "internal")
	}
}

// signout ends the session and clears the cookie.
func (h *Handler) signout(w http.ResponseWriter, r *http.Request, v *viewer) {
	if err := h.opts.Store.DeleteSession(r.Context(), v.Hash); err != nil {
		h.opts.Logger.Error("console: ending a session", "err", err)
	}
	h.hub.endSession(v.Hash)
	http.SetCookie(w, h.cookie(r, "", -1))
	http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
}
