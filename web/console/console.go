// Package console is gongdan's web console at /console/ (DESIGN.md §11): the queue, a ticket,
// the SLA board, dispatch, the engineer's phone view, the dashboard and operations, for
// dispatchers, engineers in the field, supervisors and ops. Pages are rendered on the server
// from embedded templates; htmx (vendored, embedded) swaps parts of them, and one
// server-sent event stream per page keeps them live.
//
// The console holds no ticket rules of its own. Everything it reads and does goes through the
// API in this process, as the signed-in actor (api.AsActor): a page or a button is shown only
// to the roles the endpoint behind it admits (api.Server.Admits), and anything posted is
// refused by the API exactly as the same call with a token would be.
package console

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/gzhttp"
	"gongdan/attachments"

	"gongdan/core/api"
	"gongdan/core/engine"
	"gongdan/core/store"
	"gongdan/core/ticket"
	"gongdan/web/webkit"
)

//go:embed templates
var templatesFS embed.FS

//go:embed assets
var assetsFS embed.FS

// Options configure the console.
type Options struct {
	// API is the API server of this process: every read and every action goes through it.
	// The API mounts the console (api.Options.Edge), so it is made after the console and
	// given to it with UseAPI, before the first request.
	API    *api.Server
	Engine *engine.Engine
	Store  store.Store
	// WeCom enables WeCom web sign-in (企业微信网页授权 and 扫码登录); nil: tokens only.
	WeCom *WeCom
	// Secure marks the session cookie Secure (the console is served behind TLS).
	Secure bool
	// PublicURL is server.public_url, the address browsers reach gongdan at: WeCom sends
	// people back to {PublicURL}/console/wecom/callback. Empty: the request's own host.
	PublicURL string
	// IdleTimeout ends a session unused this long (default 8h); MaxAge ends any session this
	// long after sign-in (default 7 days).
	IdleTimeout time.Duration
	MaxAge      time.Duration
	// Heartbeat is the interval of keep-alive comments on the live stream (default 15s);
	// Flush how long live changes are gathered before they are sent (default 200ms).
	Heartbeat time.Duration
	Flush     time.Duration
	Location  *time.Location
	Logger    *slog.Logger
	// Attachments keeps the photos engineers take when they resolve a ticket; nil refuses
	// photos. MaxPhotos and MaxPhotoBytes bound one action's photos (defaults 6 and 10 MiB,
	// each as uploaded, before it is resized).
	Attachments   *attachments.Store
	MaxPhotos     int
	MaxPhotoBytes int64
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Handler serves the console.
type Handler struct {
	opts   Options
	mux    *http.ServeMux
	pages  map[string]*template.Template
	assets map[string]asset // by fingerprinted path
	named  map[string]string
	hub    *hub
	nav    []navItem
	// gzipped is the mux compressing pages and parts (not the live stream, not the assets,
	// which are compressed once, not attachments: photos and sound are compressed already).
	gzipped http.Handler
}

// Routes are the console's routes, to mount beside the API (api.Options.Edge).
func (h *Handler) Routes() []api.Route {
	return []api.Route{{Pattern: "/console/", Handler: h}, {Pattern: "GET /console", Handler: http.RedirectHandler("/console/", http.StatusMovedPermanently)}}
}

// New builds the console's handler.
func New(opts Options) (*Handler, error) {
	if opts.Engine == nil || opts.Store == nil {
		return nil, errors.New("console: Engine and Store are required")
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 8 * time.Hour
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 7 * 24 * time.Hour
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 15 * time.Second
	}
	if opts.Flush <= 0 {
		opts.Flush = 200 * time.Millisecond
	}
	if opts.Location == nil {
		opts.Location = opts.Engine.Location()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxPhotos <= 0 {
		opts.MaxPhotos = 6
	}
	if opts.MaxPhotoBytes <= 0 {
		opts.MaxPhotoBytes = 10 << 20
	}
	h := &Handler{opts: opts, mux: http.NewServeMux(), pages: map[string]*template.Template{}}
	if err := h.loadAssets(); err != nil {
		return nil, err
	}
	if err := h.loadTemplates(); err != nil {
		return nil, err
	}
	h.hub = newHub(h)
	h.routes()
	// Pages carry the CSRF token beside text a visitor can choose (a search): jitter hides
	// the compressed size that a BREACH-style attack reads.
	wrap, err := gzhttp.NewWrapper(gzhttp.MinSize(1024), gzhttp.RandomJitter(32, 0, false))
	if err != nil {
		return nil, err
	}
	h.gzipped = wrap(h.mux)
	return h, nil
}

// UseAPI gives the console the API it works through (see Options.API).
func (h *Handler) UseAPI(s *api.Server) { h.opts.API = s }

// Close ends the live streams (a graceful shutdown waits for handlers).
func (h *Handler) Close() { h.hub.close() }

// ServeHTTP sets the console's security headers on every answer.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Robots-Tag", "noindex, nofollow")
	if r.URL.Path == "/console/events" || strings.HasPrefix(r.URL.Path, "/console/assets/") || strings.HasPrefix(r.URL.Path, "/console/attachments/") {
		h.mux.ServeHTTP(w, r)
		return
	}
	h.gzipped.ServeHTTP(w, r)
}

// navItem is an entry of the page header's navigation, shown to the roles the API admits to
// the endpoint behind the page.
type navItem struct {
	Key     string // its text's key
	Path    string
	Pattern string // the API route the page reads
	// Only, when set, is the one role the link is for (an engineer's own tickets).
	Only ticket.Role
}

// page registers a page at pattern that reads the API route apiPattern: only roles the API
// admits there may open it (others get 403), and the navigation shows it only to them.
func (h *Handler) page(pattern, apiPattern string, fn func(w http.ResponseWriter, r *http.Request, v *viewer)) {
	h.mux.Handle(pattern, h.signedIn(func(w http.ResponseWriter, r *http.Request, v *viewer) {
		if apiPattern != "" && !h.opts.API.Admits(apiPattern, v.Actor.Role) {
			h.forbidden(w, r, v)
			return
		}
		fn(w, r, v)
	}))
}

// routes mounts every page.
func (h *Handler) routes() {
	h.mux.HandleFunc("GET /console/assets/", h.serveAsset)
	h.mux.HandleFunc("GET /console/signin", h.signinPage)
	h.mux.HandleFunc("POST /console/signin", h.signin)
	h.mux.HandleFunc("GET /console/wecom/start", h.wecomStart)
	h.mux.HandleFunc("GET /console/wecom/callback", h.wecomCallback)
	h.mux.Handle("POST /console/signout", h.signedIn(h.signout))
	h.mux.Handle("GET /console/{$}", h.signedIn(func(w http.ResponseWriter, r *http.Request, v *viewer) {
		http.Redirect(w, r, h.home(v), http.StatusSeeOther)
	}))
	h.mux.Handle("GET /console/events", h.signedIn(h.hub.serve))
	for _, p := range pageRegistry {
		p(h)
	}
	h.mux.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		v, _ := h.session(r) // a signed-in reader keeps the navigation
		h.problem(w, r, v, http.StatusNotFound, "not_found")
	})
}

// pageRegistry holds each page file's registration (its init adds it), so pages are added
// without touching this file.
var pageRegistry []func(h *Handler)

// addNavFor adds a link for one role only.
func (h *Handler) addNavFor(key, path, apiPattern string, role ticket.Role) {
	h.addNav(key, path, apiPattern)
	for i := range h.nav {
		if h.nav[i].Key == key {
			h.nav[i].Only = role
		}
	}
}

// navOrder is the order of the header's navigation: the work first, then the views over it.
var navOrder = []string{"nav_queue", "my_tickets", "nav_sla", "nav_dispatch", "nav_dashboard", "nav_ops"}

// addNav adds a page to the header's navigation, in navOrder.
func (h *Handler) addNav(key, path, apiPattern string) {
	h.nav = append(h.nav, navItem{Key: key, Path: path, Pattern: apiPattern})
	rank := func(k string) int {
		if i := slices.Index(navOrder, k); i >= 0 {
			return i
		}
		return len(navOrder)
	}
	slices.SortStableFunc(h.nav, func(a, b navItem) int { return rank(a.Key) - rank(b.Key) })
}

// home is where a signed-in actor lands: engineers on their phone view, everyone else on the
// queue.
func (h *Handler) home(v *viewer) string {
	if v.Actor.Role == ticket.RoleEngineer {
		return "/console/me"
	}
	return "/console/queue"
}

// --- the API in this process ---

// APIError is an answer of the API other than 2xx: its problem+json.
type APIError struct {
	Status int    `json:"status"`
	Type   string `json:"type"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Field  string `json:"field,omitempty"`
}

func (e *APIError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Title, e.Detail) }

// call sends method target (with body as JSON when not nil) to the API as v's actor and
// decodes the answer into out (when not nil). An answer other than 2xx is an *APIError.
func (h *Handler) call(ctx context.Context, r *http.Request, actor ticket.Actor, method, target string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(api.AsActor(ctx, actor), method, target, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r != nil {
		// The API sees the browser's address, for its logs and limits.
		req.RemoteAddr = r.RemoteAddr
		for _, k := range []string{"X-Forwarded-For", "X-Real-Ip", "Forwarded", "Via", "X-Request-Id"} {
			if v := r.Header.Get(k); v != "" {
				req.Header.Set(k, v)
			}
		}
	}
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	h.opts.API.ServeHTTP(rec, req)
	if rec.status >= 300 {
		e := &APIError{Status: rec.status}
		if json.Unmarshal(rec.body.Bytes(), e) != nil || e.Title == "" {
			e.Title, e.Detail = http.StatusText(rec.status), strings.TrimSpace(rec.body.String())
		}
		e.Status = rec.status
		return e
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = rec.body.Bytes()
		return nil
	}
	return json.Unmarshal(rec.body.Bytes(), out)
}

// get reads target from the API as v's actor.
func (h *Handler) get(r *http.Request, v *viewer, target string, out any) error {
	return h.call(r.Context(), r, v.Actor, http.MethodGet, target, nil, out)
}

// recorder is the response writer of an in-process API call.
type recorder struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (rc *recorder) Header() http.Header { return rc.header }
func (rc *recorder) WriteHeader(code int) {
	if !rc.wrote {
		rc.status, rc.wrote = code, true
	}
}
func (rc *recorder) Write(b []byte) (int, error) {
	rc.wrote = true
	return rc.body.Write(b)
}

// --- rendering ---

// Page is what every page template gets: the viewer, the navigation and the page's own data.
type Page struct {
	V     *viewer
	Title string
	Nav   []navItem
	Here  string
	Data  any
	// Flash is a message from the last action; FlashBad marks it an error.
	Flash    string
	FlashBad bool
	// Live: the page keeps a live stream open.
	Live bool
}

// render writes the page template name (templates/name.html, its "content") in the layout.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, v *viewer, status int, name string, p Page) {
	t, ok := h.pages[name]
	if !ok {
		h.opts.Logger.Error("console: no template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	p.V = v
	p.Here = r.URL.Path
	if v != nil {
		for _, n := range h.nav {
			if h.opts.API.Admits(n.Pattern, v.Actor.Role) && (n.Only == "" || n.Only == v.Actor.Role) {
				p.Nav = append(p.Nav, n)
			}
		}
	}
	entry := "layout"
	if r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-Boosted") != "true" {
		entry = "content" // htmx asked for the part, not the page
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, entry, p); err != nil {
		h.opts.Logger.Error("console: rendering", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Vary", "HX-Request")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fragment writes one named template of page name alone (an htmx swap).
func (h *Handler) fragment(w http.ResponseWriter, v *viewer, name, tmpl string, data any) {
	t, ok := h.pages[name]
	if !ok {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, tmpl, data); err != nil {
		h.opts.Logger.Error("console: rendering", "page", name, "template", tmpl, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

// problem answers with an error page (or, to htmx, the error alone), in the reader's language.
func (h *Handler) problem(w http.ResponseWriter, r *http.Request, v *viewer, status int, key string) {
	l := webkit.LangOf(r)
	if v != nil {
		l = v.Lang
	}
	h.render(w, r, v, status, "error", Page{Title: words.T(l, key), Data: errorData{Status: status, Key: key, Lang: l}})
}

type errorData struct {
	Status int
	Key    string
	Detail string
	Lang   webkit.Lang
}

// forbidden answers 403: the actor's role may not open or do this.
func (h *Handler) forbidden(w http.ResponseWriter, r *http.Request, v *viewer) {
	h.problem(w, r, v, http.StatusForbidden, "forbidden")
}

// apiFailed answers a failed API call: its status and what the API said.
func (h *Handler) apiFailed(w http.ResponseWriter, r *http.Request, v *viewer, err error) {
	var e *APIError
	if !errors.As(err, &e) {
		h.opts.Logger.Error("console: API call", "path", r.URL.Path, "err", err)
		h.problem(w, r, v, http.StatusInternalServerError, "internal")
		return
	}
	h.render(w, r, v, e.Status, "error", Page{Title: e.Title, Data: errorData{Status: e.Status, Key: "api_error", Detail: e.Detail, Lang: v.Lang}})
}

// query builds a path with its query, leaving out empty values.
func query(path string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Add(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// loadTemplates parses the layout with each page: templates/*.html other than layout.html
// and partials.html are pages.
func (h *Handler) loadTemplates() error {
	base, err := template.New("layout").Funcs(h.funcs()).ParseFS(templatesFS, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return err
	}
	names, err := fs.Glob(templatesFS, "templates/*.html")
	if err != nil {
		return err
	}
	for _, f := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(f, "templates/"), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templatesFS, f)
		if err != nil {
			return fmt.Errorf("console: template %s: %w", f, err)
		}
		h.pages[name] = t
	}
	return nil
}
